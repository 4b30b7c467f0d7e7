// For the LD_PRELOAD shims beside it: whether a descriptor is open on one file, by the real path the
// kernel gives it (/proc/self/fd), so a shim can fail or stall the reads of that file only.
#pragma once
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fd_is_file(int fd, const char* path) {
    char link[64], target[4096];
    if (!path) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return 0;
    target[len] = 0;
    return strcmp(target, path) == 0;
}
