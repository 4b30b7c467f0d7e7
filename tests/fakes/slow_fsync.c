// LD_PRELOAD shim: a slow disk for chosen files. Every fsync() or fdatasync() of a file whose real path
// begins with QC_SLOW_FSYNC_PREFIX takes QC_SLOW_FSYNC_MS milliseconds more (an SD card, a busy USB disk, NFS);
// other files sync as usual. SQLite's commit (synchronous=FULL) syncs the ledger's -wal file while it holds
// the write lock, so one thread's commit holds the other's write for that long
// (tests/uploader/test_ledger_slow_disk.py).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void slow(int fd) {
    const char* prefix = getenv("QC_SLOW_FSYNC_PREFIX");
    const char* ms = getenv("QC_SLOW_FSYNC_MS");
    char link[64], target[4096];
    if (!prefix || !ms) return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return;
    target[len] = 0;
    if (strncmp(target, prefix, strlen(prefix)) != 0) return;
    long delay = atol(ms);
    struct timespec wait = {delay / 1000, (delay % 1000) * 1000000L};
    while (nanosleep(&wait, &wait) != 0) {}
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow(fd);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow(fd);
    return real(fd);
}
