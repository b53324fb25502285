/* replay_main.c — runs the fuzz target over files and folders without libFuzzer, so the unit tests replay
 * fuzz/regressions (every input that ever crashed) and the seed corpus on every build.
 * Usage: fuzz_replay PATH...   (a folder means every regular file in it) */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
  static uint8_t buf[1 << 20];
  FILE *f = fopen(path, "rb");
  size_t n;
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return 1;
  }
  n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  (void)LLVMFuzzerTestOneInput(buf, n);
  return 0;
}

int main(int argc, char **argv) {
  int i, failures = 0, count = 0;
  for (i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "no such path %s\n", argv[i]);
      failures++;
    } else if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      struct dirent *e;
      while (d != NULL && (e = readdir(d)) != NULL) {
        char path[4096];
        struct stat fst;
        snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
        if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode) && e->d_name[0] != '.') {
          failures += replay_file(path);
          count++;
        }
      }
      if (d != NULL) closedir(d);
    } else {
      failures += replay_file(argv[i]);
      count++;
    }
  }
  printf("replayed %d inputs, %d unreadable\n", count, failures);
  return failures == 0 ? 0 : 1;
}
