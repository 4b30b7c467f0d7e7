// LD_PRELOAD shim: a disk that takes its time, for chosen files. Every write() or pwrite() of a file whose real
// path begins with QC_SLOW_WRITES_PREFIX sleeps QC_SLOW_WRITES_US_PER_KB microseconds per KiB written (a
// throttled disk: its bytes a second), so a recorder writing there falls behind a camera by a set factor, as an
// encoder too slow for its cameras does (tests/test_recorder_behind.py). Other files write as usual.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void slow(int fd, size_t size) {
    const char* prefix = getenv("QC_SLOW_WRITES_PREFIX");
    const char* rate = getenv("QC_SLOW_WRITES_US_PER_KB");
    char link[64], target[4096];
    if (!prefix || !rate) return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return;
    target[len] = 0;
    if (strncmp(target, prefix, strlen(prefix)) != 0) return;
    long long us = atoll(rate) * (long long)size / 1024;
    struct timespec wait = {us / 1000000, (us % 1000000) * 1000L};
    while (nanosleep(&wait, &wait) != 0) {}
}

ssize_t write(int fd, const void* buf, size_t size) {
    static ssize_t (*real)(int, const void*, size_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
    slow(fd, size);
    return real(fd, buf, size);
}

ssize_t pwrite(int fd, const void* buf, size_t size, off_t offset) {
    static ssize_t (*real)(int, const void*, size_t, off_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    slow(fd, size);
    return real(fd, buf, size, offset);
}
