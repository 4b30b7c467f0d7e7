// LD_PRELOAD shim: memory that runs out on cue, as under a cgroup's memory.max or an address-space limit
// (bench/outside/memory_squeeze.py: OpenCV's "Failed to allocate 460800 bytes", a 640x480 picture in 4:2:0).
// While the file QC_OOM_WHEN exists, posix_memalign of exactly QC_OOM_BYTES bytes fails with ENOMEM, at most
// QC_OOM_TIMES times (default 1), each said on stderr ("oom_on_cue: refused N bytes"); every other call is the
// real one. OpenCV allocates with posix_memalign when OPENCV_ENABLE_MEMALIGN=1 (with malloc otherwise on glibc).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int refused;

int posix_memalign(void** out, size_t alignment, size_t size) {
    static int (*real)(void**, size_t, size_t);
    if (!real) real = (int (*)(void**, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    const char* when = getenv("QC_OOM_WHEN");
    const char* bytes = getenv("QC_OOM_BYTES");
    const char* times = getenv("QC_OOM_TIMES");
    if (when && bytes && size == strtoull(bytes, NULL, 10) && refused < (times ? atoi(times) : 1) &&
        access(when, F_OK) == 0) {
        __atomic_add_fetch(&refused, 1, __ATOMIC_SEQ_CST);
        fprintf(stderr, "oom_on_cue: refused %zu bytes\n", size);
        fflush(stderr);
        return ENOMEM;
    }
    return real(out, alignment, size);
}
