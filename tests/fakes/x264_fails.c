// LD_PRELOAD shim: libx264 that cannot open an encoder while a test says so, as under memory pressure (x264's
// "malloc of size … failed", then x264_encoder_open returns NULL: seen under a ~680 MB address-space limit).
// While the file QC_X264_FAILS_WHEN exists, x264_encoder_open (PyAV's libx264 165 and Debian's 164 alike) returns
// NULL and says so on stderr ("x264_fails: encoder open refused"); otherwise it opens the real one. libx264 may sit
// where RTLD_NEXT does not look (PyAV's copy, loaded with its Python module RTLD_LOCAL): found by its path.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int find_x264(struct dl_phdr_info* info, size_t size, void* found) {
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "libx264")) {
        *(void**)found = dlopen(info->dlpi_name, RTLD_NOLOAD | RTLD_LAZY);
        return 1;
    }
    return 0;
}

static void* open_encoder(const char* name, void* params) {
    const char* when = getenv("QC_X264_FAILS_WHEN");
    if (when && access(when, F_OK) == 0) {
        fprintf(stderr, "x264_fails: encoder open refused\n");
        fflush(stderr);
        return NULL;
    }
    void* library = NULL;
    dl_iterate_phdr(find_x264, &library);
    void* (*real)(void*) = library ? (void* (*)(void*))dlsym(library, name) : NULL;
    return real ? real(params) : NULL;
}

void* x264_encoder_open_165(void* params) { return open_encoder("x264_encoder_open_165", params); }
void* x264_encoder_open_164(void* params) { return open_encoder("x264_encoder_open_164", params); }
