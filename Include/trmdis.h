#ifndef TRMDIS_H
#define TRMDIS_H
#include <stdint.h>
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

#define TRM_VERSION_MAJOR 0
#define TRM_VERSION_MINOR 1
#define TRM_VERSION_PATCH 0
#define TRM_ABI_VERSION 1

const char *trm_version(void);
int trm_abi_version(void);

#ifdef __cplusplus
}
#endif
#endif
