// OpenBLAS's CBLAS interface plus its thread-count and core queries (openblas_set_num_threads,
// openblas_get_corename, openblas_get_config), and the two loader calls the engine needs to load a second,
// correctly configured copy of OpenBLAS (Core/BLASRuntime.swift). dlmopen and dladdr are GNU extensions that
// <dlfcn.h> declares only with _GNU_SOURCE, so they are declared here under names of their own.
#include <cblas.h>

struct trmdis_dl_info {
    const char *dli_fname;
    void *dli_fbase;
    const char *dli_sname;
    void *dli_saddr;
};
extern int trmdis_dladdr(const void *address, struct trmdis_dl_info *info) __asm__("dladdr");
extern void *trmdis_dlmopen(long namespace_id, const char *file, int mode) __asm__("dlmopen");
/* LM_ID_NEWLM of <dlfcn.h>: a new link-map namespace. */
#define TRMDIS_LM_ID_NEWLM (-1L)

/* The signatures the engine calls through pointers (the linked OpenBLAS, or the second copy). */
typedef void (*trmdis_sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                                float, const float *, blasint, const float *, blasint, float, float *, blasint);
typedef void (*trmdis_set_threads_fn)(int);
typedef char *(*trmdis_string_fn)(void);
