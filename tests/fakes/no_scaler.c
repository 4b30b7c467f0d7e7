// LD_PRELOAD shim for tests/test_native_capture_failure.py: swscale has no converter for QC_NO_SCALER_COUNT
// pictures in a row from the QC_NO_SCALER_FROM-th asked for (from 0), as for a pixel format none takes: the
// native source throws in the middle of a file, a real throw through the real capture loop.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

struct SwsContext;
typedef struct SwsContext* (*Cached)(struct SwsContext*, int, int, int, int, int, int, int, void*, void*,
                                     const double*);

struct SwsContext* sws_getCachedContext(struct SwsContext* context, int src_w, int src_h, int src_format, int dst_w,
                                        int dst_h, int dst_format, int flags, void* src_filter, void* dst_filter,
                                        const double* param) {
    static Cached real;
    static long asked;
    if (!real) real = (Cached)dlsym(RTLD_NEXT, "sws_getCachedContext");
    const char* from_text = getenv("QC_NO_SCALER_FROM");
    const char* count_text = getenv("QC_NO_SCALER_COUNT");
    long from = from_text ? atol(from_text) : -1, count = count_text ? atol(count_text) : 0, at = asked++;
    if (from >= 0 && at >= from && at < from + count) {
        fprintf(stderr, "no_scaler: no converter for picture %ld\n", at);
        return NULL;  // (the context given is kept: the caller's pointer is lost, a leak the test does not mind)
    }
    return real(context, src_w, src_h, src_format, dst_w, dst_h, dst_format, flags, src_filter, dst_filter, param);
}
