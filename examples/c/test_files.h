/* Whole-file reads and writes shared by boundary_test.c and fuzz_test.c. They exit(2) when the test's own
 * file handling fails, which is not a finding about the library. */
#ifndef TRMDIS_TEST_FILES_H
#define TRMDIS_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>

static void write_bytes(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL || (n > 0 && fwrite(bytes, 1, n, f) != n)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

/* The whole file, malloc'd with `slack` spare bytes after it (room to grow it); *n receives its size. */
static unsigned char *read_bytes(const char *path, size_t *n, size_t slack) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = size < 0 ? NULL : malloc((size_t)size + slack + 1);
    if (bytes == NULL || fread(bytes, 1, (size_t)size, f) != (size_t)size) exit(2);
    fclose(f);
    *n = (size_t)size;
    return bytes;
}

#endif
