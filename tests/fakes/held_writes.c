// LD_PRELOAD shim: a disk that stops answering, for chosen files, while a test says so. Once the file
// QC_HELD_WRITES_WHEN exists, every write() or pwrite() of a file whose real path begins with
// QC_HELD_WRITES_PREFIX is held: until that file is gone (a disk that stalls for a while: the recorder held
// up, a live source's frames queued beyond buffer_max_s dropped; tests/test_native_passthrough.py), or for
// ever with QC_HELD_WRITES_FOREVER=1 (a hard NFS mount, a USB disk gone into a reset: the status file's
// write never returns; tests/test_status_write_hangs.py). Other files write as usual. The first held write
// says so on stderr ("held_writes: a write of PREFIX is held"), for the test to wait on.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int held(int fd) {
    const char* when = getenv("QC_HELD_WRITES_WHEN");
    const char* prefix = getenv("QC_HELD_WRITES_PREFIX");
    char link[64], target[4096];
    if (!when || !prefix || access(when, F_OK) != 0) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return 0;
    target[len] = 0;
    return strncmp(target, prefix, strlen(prefix)) == 0;
}

static void hold(void) {
    static int said;
    const char* forever = getenv("QC_HELD_WRITES_FOREVER");
    if (!said++) {
        fprintf(stderr, "held_writes: a write of %s is held\n", getenv("QC_HELD_WRITES_PREFIX"));
        fflush(stderr);
    }
    if (forever && strcmp(forever, "1") == 0)
        for (;;) pause();  // a signal wakes it only to wait again: the write never returns
    while (access(getenv("QC_HELD_WRITES_WHEN"), F_OK) == 0) usleep(10000);
}

ssize_t write(int fd, const void* buf, size_t size) {
    static ssize_t (*real)(int, const void*, size_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
    if (held(fd)) hold();
    return real(fd, buf, size);
}

ssize_t pwrite(int fd, const void* buf, size_t size, off_t offset) {
    static ssize_t (*real)(int, const void*, size_t, off_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    if (held(fd)) hold();
    return real(fd, buf, size, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t size, off_t offset) {
    static ssize_t (*real)(int, const void*, size_t, off_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    if (held(fd)) hold();
    return real(fd, buf, size, offset);
}
