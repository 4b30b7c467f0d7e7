// LD_PRELOAD shim: a server that keeps only the start of the files it is sent, and says it wrote them all.
// While the file QC_SHORT_WRITES_WHEN exists, a write() or pwrite() into a file whose real path contains
// QC_SHORT_WRITES_MATCH writes nothing from QC_SHORT_WRITES_KEEP bytes into the file on, and returns the whole
// size asked (an SFTP server on a NAS whose disk or quota lies; bench/outside/stored_short.py --sftp, in
// OpenSSH's sftp-server). Other files and other times write as usual.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// How many of ``size`` bytes at ``offset`` to write: all of them, or those before the kept length.
static size_t kept(int fd, off_t offset, size_t size) {
    const char* when = getenv("QC_SHORT_WRITES_WHEN");
    const char* match = getenv("QC_SHORT_WRITES_MATCH");
    const char* keep = getenv("QC_SHORT_WRITES_KEEP");
    char link[64], target[4096];
    if (!when || !match || !keep || offset < 0 || access(when, F_OK) != 0) return size;
    if ((long long)offset + (long long)size <= atoll(keep)) return size;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return size;
    target[len] = 0;
    if (strstr(target, match) == NULL) return size;
    return offset >= atoll(keep) ? 0 : (size_t)(atoll(keep) - offset);
}

ssize_t write(int fd, const void* buf, size_t size) {
    static ssize_t (*real)(int, const void*, size_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
    size_t n = kept(fd, lseek(fd, 0, SEEK_CUR), size);
    if (n == size) return real(fd, buf, size);
    if (n > 0 && real(fd, buf, n) < 0) return -1;
    return (ssize_t)size;
}

ssize_t pwrite(int fd, const void* buf, size_t size, off_t offset) {
    static ssize_t (*real)(int, const void*, size_t, off_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    size_t n = kept(fd, offset, size);
    if (n == size) return real(fd, buf, size, offset);
    if (n > 0 && real(fd, buf, n, offset) < 0) return -1;
    return (ssize_t)size;
}

ssize_t pwrite64(int fd, const void* buf, size_t size, off_t offset) {
    static ssize_t (*real)(int, const void*, size_t, off_t);
    if (!real) real = (ssize_t (*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    size_t n = kept(fd, offset, size);
    if (n == size) return real(fd, buf, size, offset);
    if (n > 0 && real(fd, buf, n, offset) < 0) return -1;
    return (ssize_t)size;
}
