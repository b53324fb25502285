/* test_util.c — file and hex helpers for the tests (POSIX directory listing). */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long size;
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  buf = malloc((size_t)size + 1u);
  if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf == NULL) return NULL;
  buf[size] = '\0';
  if (len != NULL) *len = (size_t)size;
  return buf;
}

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t hex_to_bytes(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  int high = -1;
  for (; *hex != '\0'; hex++) {
    int v;
    if (strchr(" \t\r\n", *hex) != NULL) continue;
    v = nibble(*hex);
    if (v < 0) return (size_t)-1;
    if (high < 0) {
      high = v;
    } else {
      if (n >= cap) return (size_t)-1;
      out[n++] = (uint8_t)(high << 4 | v);
      high = -1;
    }
  }
  return high < 0 ? n : (size_t)-1;
}

static int compare_names(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

size_t list_files(const char *dir, const char *suffix, char names[][96], size_t cap) {
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;
  size_t slen = strlen(suffix);
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL && n < cap) {
    size_t len = strlen(e->d_name);
    if (len > slen && len - slen < 96 && strcmp(e->d_name + len - slen, suffix) == 0) {
      memcpy(names[n], e->d_name, len - slen);
      names[n][len - slen] = '\0';
      n++;
    }
  }
  closedir(d);
  qsort(names, n, sizeof names[0], compare_names);
  return n;
}
