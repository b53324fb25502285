/* test_util.h — file and hex helpers shared by the cmocka tests. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Whole file as a NUL-terminated malloc'd string (free it), or NULL. *len gets the byte count. */
char *read_file(const char *path, size_t *len);
/* Hex text (whitespace ignored) to bytes; returns the byte count, or (size_t)-1 on bad hex or overflow. */
size_t hex_to_bytes(const char *hex, uint8_t *out, size_t cap);
/* Names of the files in dir ending in suffix, without the suffix, sorted; returns the count (max cap). */
size_t list_files(const char *dir, const char *suffix, char names[][96], size_t cap);

#endif
