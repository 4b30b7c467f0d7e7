// LD_PRELOAD shim for tests/test_native_link_read_error.py: the first QC_FAIL_READS_COUNT read()s of files
// named *QC_FAIL_READS_SUFFIX in the folder QC_FAIL_READS_DIR (its real path) fail with EIO, then reads work
// again: a disk that refuses an outbox payload for a moment (a bad sector remapped, a USB disk's reset).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long failed;

static int is_target(int fd) {
    const char* dir = getenv("QC_FAIL_READS_DIR");
    const char* suffix = getenv("QC_FAIL_READS_SUFFIX");
    char link[64], target[4096];
    if (!dir || !suffix) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return 0;
    target[len] = 0;
    size_t dir_len = strlen(dir), suffix_len = strlen(suffix), target_len = (size_t)len;
    return target_len > dir_len + 1 + suffix_len && strncmp(target, dir, dir_len) == 0 && target[dir_len] == '/'
           && !strchr(target + dir_len + 1, '/') && strcmp(target + target_len - suffix_len, suffix) == 0;
}

ssize_t read(int fd, void* buf, size_t size) {
    static ssize_t (*real)(int, void*, size_t);
    if (!real) real = (ssize_t (*)(int, void*, size_t))dlsym(RTLD_NEXT, "read");
    const char* count = getenv("QC_FAIL_READS_COUNT");
    if (count && failed < atol(count) && is_target(fd)) {
        ++failed;
        fprintf(stderr, "fail_reads: read %ld of %s file(s) fails with EIO\n", failed, getenv("QC_FAIL_READS_SUFFIX"));
        errno = EIO;
        return -1;
    }
    return real(fd, buf, size);
}
