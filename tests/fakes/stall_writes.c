// LD_PRELOAD shim for tests/test_native_passthrough.py: while the file QC_STALL_WRITES_WHEN exists, every write()
// of a file whose real path begins with QC_STALL_WRITES_PREFIX (the outbox's staging folder) waits until it is
// gone, then goes on: a disk that stops answering for a while. The recorder is held up meanwhile, and a live
// source's frames queued for it beyond buffer_max_s are dropped (a gap in the recorded packets). The first
// stalled write says so on stderr, for the test to wait on.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int stalls(int fd) {
    const char* when = getenv("QC_STALL_WRITES_WHEN");
    const char* prefix = getenv("QC_STALL_WRITES_PREFIX");
    char link[64], target[4096];
    if (!when || !prefix || access(when, F_OK) != 0) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return 0;
    target[len] = 0;
    return strncmp(target, prefix, strlen(prefix)) == 0;
}

ssize_t write(int fd, const void* buf, size_t size) {
    static ssize_t (*real)(int, const void*, size_t);
    static int said;
    if (!real) real = (ssize_t (*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
    if (stalls(fd)) {
        if (!said++) {
            fprintf(stderr, "stall_writes: a write of %s waits\n", getenv("QC_STALL_WRITES_PREFIX"));
            fflush(stderr);
        }
        while (access(getenv("QC_STALL_WRITES_WHEN"), F_OK) == 0) usleep(10000);
    }
    return real(fd, buf, size);
}
