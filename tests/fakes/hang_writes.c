// LD_PRELOAD shim for tests/test_status_write_hangs.py: once the file QC_HANG_WRITES_WHEN exists, every write() or
// pwrite() of a file whose real path begins with QC_HANG_WRITES_PREFIX (the status file, and its temporary name
// beside it) never returns: a disk that stopped answering under the outbox (a hard NFS mount, a USB disk gone into
// a reset). Other files write as usual. The first such write says so on stderr, for the test to wait on.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hangs(int fd) {
    const char* when = getenv("QC_HANG_WRITES_WHEN");
    const char* prefix = getenv("QC_HANG_WRITES_PREFIX");
    char link[64], target[4096];
    if (!when || !prefix || access(when, F_OK) != 0) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return 0;
    target[len] = 0;
    return strncmp(target, prefix, strlen(prefix)) == 0;
}

static void hang(void) {
    fprintf(stderr, "hang_writes: a write of %s hangs\n", getenv("QC_HANG_WRITES_PREFIX"));
    fflush(stderr);
    for (;;) pause();  // a signal wakes it only to wait again: the write never returns
}

ssize_t write(int fd, const void* buf, size_t size) {
    static ssize_t (*real)(int, const void*, size_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
    if (hangs(fd)) hang();
    return real(fd, buf, size);
}

ssize_t pwrite(int fd, const void* buf, size_t size, off_t offset) {
    static ssize_t (*real)(int, const void*, size_t, off_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    if (hangs(fd)) hang();
    return real(fd, buf, size, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t size, off_t offset) {
    static ssize_t (*real)(int, const void*, size_t, off_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    if (hangs(fd)) hang();
    return real(fd, buf, size, offset);
}
