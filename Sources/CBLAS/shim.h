// What the engine needs to call OpenBLAS, which it loads itself at first use (Core/BLASRuntime.swift) rather
// than linking it: the CBLAS enumerations and integer type of cblas_sgemm's signature (the values of the
// CBLAS standard; blasint is int in OpenBLAS built without INTERFACE64, as Debian's libopenblas0 is), the
// signatures it calls through pointers, and the loader calls for a second, correctly configured copy.
// dlmopen and dladdr are GNU extensions that <dlfcn.h> declares only with _GNU_SOURCE, so they are declared
// here under names of their own.
typedef enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 } CBLAS_ORDER;
typedef enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 } CBLAS_TRANSPOSE;
typedef int blasint;

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

/* The signatures the engine calls through pointers (the OpenBLAS it loaded, or the corrected second copy). */
typedef void (*trmdis_sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                                float, const float *, blasint, const float *, blasint, float, float *, blasint);
typedef void (*trmdis_set_threads_fn)(int);
typedef char *(*trmdis_string_fn)(void);
