// LD_PRELOAD shim for tests/test_native_file_read_error.py: the reads of one file (QC_EIO_PATH, its real
// path) fail with EIO from the first read() that starts within [QC_EIO_FROM, QC_EIO_TO) bytes until that
// descriptor is closed, once per process: a network share that hiccups, then answers again once reopened.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd_path.h"
static int failing_fd = -1, done;
ssize_t read(int fd, void* buf, size_t size) {
    static ssize_t (*real)(int, void*, size_t);
    if (!real) real = (ssize_t (*)(int, void*, size_t))dlsym(RTLD_NEXT, "read");
    if (fd == failing_fd) { errno = EIO; return -1; }
    if (!done && fd_is_file(fd, getenv("QC_EIO_PATH"))) {
        off_t at = lseek(fd, 0, SEEK_CUR);
        if (at >= atoll(getenv("QC_EIO_FROM")) && at < atoll(getenv("QC_EIO_TO"))) {
            failing_fd = fd, done = 1;
            fprintf(stderr, "eio_once: reads of fd %d fail from byte %lld until it is closed\n", fd, (long long)at);
            errno = EIO;
            return -1;
        }
    }
    return real(fd, buf, size);
}
int close(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (fd == failing_fd) failing_fd = -1;
    return real(fd);
}
