"""The link's wake-up pipe: a poll on it returns when another thread wakes it, and a closed one is inert."""

from __future__ import annotations

import os
import threading

import zmq

from quickcam.detector.wakeup import WakePipe


def test_a_wake_from_another_thread_ends_the_poll_and_drain_empties_it() -> None:
    pipe = WakePipe()
    poller = zmq.Poller()
    poller.register(pipe.fd, zmq.POLLIN)
    try:
        assert not dict(poller.poll(0))
        waker = threading.Thread(target=lambda: [pipe.wake() for _ in range(100_000)])  # more than a pipe holds
        waker.start()
        assert pipe.fd in dict(poller.poll(5000))
        waker.join()
        pipe.drain()
        assert not dict(poller.poll(0))
    finally:
        pipe.close()


def test_waking_a_closed_pipe_or_one_never_opened_does_nothing() -> None:
    pipe = WakePipe()
    pipe.close()
    pipe.wake()
    pipe.close()
    WakePipe.closed().wake()


def test_a_closed_pipe_gives_up_its_descriptor_number_and_never_drains_the_file_that_reuses_it() -> None:
    # The kernel gives the lowest free number to the next descriptor: a closed pipe that kept its
    # number would drain (and a poller would wait on) whatever opened next, as the link once drained
    # the next ZeroMQ socket's own eventfd (test_link_restart).
    pipe = WakePipe()
    old = pipe.fd
    pipe.close()
    assert pipe.fd == -1
    read, write = os.pipe()
    os.dup2(read, old)  # the old number now names another file, as it would after the next open
    try:
        os.write(write, b"x")
        pipe.drain()  # does nothing: not a read of the reused number
        assert os.read(old, 1) == b"x"
    finally:
        for fd in {read, write, old}:
            os.close(fd)
