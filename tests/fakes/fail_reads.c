// LD_PRELOAD shim for tests/test_native_link_read_error.py: the first QC_FAIL_READS_COUNT read()s of files
// named *QC_FAIL_READS_SUFFIX in the folder QC_FAIL_READS_DIR (its real path) fail with EIO, then reads work
// again: a disk that refuses an outbox payload for a moment (a bad sector remapped, a USB disk's reset).
// With QC_FAIL_READS_ONE set instead, the first such file read is the bad one: every read of it fails with EIO
// (a bad sector; other files read well) until the file named by QC_FAIL_READS_HEALED exists (the disk came back).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long failed;
static char bad[4096];  // QC_FAIL_READS_ONE: the file that never reads

static int target_path(int fd, char* target, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, size - 1);
    if (len <= 0) return 0;
    target[len] = 0;
    return 1;
}

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

static int is_bad(int fd) {
    const char* healed = getenv("QC_FAIL_READS_HEALED");
    char target[4096];
    if (!getenv("QC_FAIL_READS_ONE") || (healed && access(healed, F_OK) == 0)) return 0;
    if (!bad[0]) {
        if (!is_target(fd) || !target_path(fd, target, sizeof target)) return 0;
        snprintf(bad, sizeof bad, "%s", target);
        fprintf(stderr, "fail_reads: every read of %s fails with EIO\n", bad);
        return 1;
    }
    return target_path(fd, target, sizeof target) && strcmp(target, bad) == 0;
}

ssize_t read(int fd, void* buf, size_t size) {
    static ssize_t (*real)(int, void*, size_t);
    if (!real) real = (ssize_t (*)(int, void*, size_t))dlsym(RTLD_NEXT, "read");
    if (is_bad(fd)) {
        errno = EIO;
        return -1;
    }
    const char* count = getenv("QC_FAIL_READS_COUNT");
    if (count && failed < atol(count) && is_target(fd)) {
        ++failed;
        fprintf(stderr, "fail_reads: read %ld of %s file(s) fails with EIO\n", failed, getenv("QC_FAIL_READS_SUFFIX"));
        errno = EIO;
        return -1;
    }
    return real(fd, buf, size);
}
