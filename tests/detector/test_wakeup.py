"""The link's wake-up pipe: a poll on it returns when another thread wakes it, and a closed one is inert."""

from __future__ import annotations

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
