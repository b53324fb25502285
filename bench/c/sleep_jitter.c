/* Baseline for loop timing: a C loop on clock_nanosleep(TIMER_ABSTIME) at a fixed rate, printing wake-up
 * lateness percentiles as JSON. Usage: sleep_jitter RATE_HZ TICKS */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  double rate = argc > 1 ? atof(argv[1]) : 500.0;
  long ticks = argc > 2 ? atol(argv[2]) : 10000;
  if (rate <= 0 || ticks <= 0) return 2;
  double *late = malloc(sizeof(double) * (size_t)ticks);
  if (!late) return 1;
  long period_ns = (long)(1e9 / rate);
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (long i = 0; i < ticks; i++) {
    next.tv_nsec += period_ns;
    while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
    late[i] = ((double)(now.tv_sec - next.tv_sec) * 1e9 + (double)(now.tv_nsec - next.tv_nsec)) / 1e3;
  }
  qsort(late, (size_t)ticks, sizeof(double), cmp);
  printf("{\"rate_hz\":%.1f,\"ticks\":%ld,\"period_error_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}\n",
         rate, ticks, late[ticks / 2], late[(long)(ticks * 0.99)], late[ticks - 1]);
  free(late);
  return 0;
}
