// LD_PRELOAD shim for tests/test_stuck_capture_stop.py: once the file QC_HANG_READS_WHEN exists, every read() of
// the file QC_HANG_READS_FILE (its real path) never returns: a disk or a network share that stopped answering
// (a hard NFS mount, a USB disk gone into a reset) under a camera's source. Other files read as usual. The first
// such read says so on stderr, for the test to wait on.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd_path.h"

ssize_t read(int fd, void* buf, size_t size) {
    static ssize_t (*real)(int, void*, size_t);
    if (!real) real = (ssize_t (*)(int, void*, size_t))dlsym(RTLD_NEXT, "read");
    const char* when = getenv("QC_HANG_READS_WHEN");
    if (when && access(when, F_OK) == 0 && fd_is_file(fd, getenv("QC_HANG_READS_FILE"))) {
        fprintf(stderr, "hang_reads: a read of %s hangs\n", getenv("QC_HANG_READS_FILE"));
        fflush(stderr);
        for (;;) pause();  // a signal wakes it only to wait again: the read never returns
    }
    return real(fd, buf, size);
}
