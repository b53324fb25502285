/* Baseline for loop timing that wakes the way Striatum's RealtimeClock does: sleep (clock_nanosleep,
 * TIMER_ABSTIME) until SPIN_US + 1 ms before each deadline, then spin on clock_gettime until the deadline.
 * Prints wake-up lateness percentiles, and how long each tick spun, as JSON. Usage: spin_jitter RATE_HZ TICKS SPIN_US */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* RealtimeClock wakes this much earlier than the spin, because Node timers fire up to ~1 ms late. */
#define TIMER_SLACK_NS 1000000L

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static long long ns_of(const struct timespec *t) { return (long long)t->tv_sec * 1000000000LL + t->tv_nsec; }

static struct timespec ts_of(long long ns) {
  struct timespec t = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
  return t;
}

int main(int argc, char **argv) {
  double rate = argc > 1 ? atof(argv[1]) : 500.0;
  long ticks = argc > 2 ? atol(argv[2]) : 10000;
  long spin_us = argc > 3 ? atol(argv[3]) : 400;
  if (rate <= 0 || ticks <= 0 || spin_us < 0) return 2;
  double *late = malloc(sizeof(double) * (size_t)ticks);
  double *spun = malloc(sizeof(double) * (size_t)ticks);
  if (!late || !spun) return 1;
  long long period_ns = (long long)(1e9 / rate);
  long long early_ns = spin_us * 1000LL + TIMER_SLACK_NS;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long deadline = ns_of(&now);
  for (long i = 0; i < ticks; i++) {
    deadline += period_ns;
    /* Sleep again if woken with more than the spin left, as RealtimeClock does. */
    for (;;) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (deadline - ns_of(&now) <= early_ns) break;
      struct timespec wake = ts_of(deadline - early_ns);
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL);
    }
    long long spin_start = ns_of(&now);
    do clock_gettime(CLOCK_MONOTONIC, &now); while (ns_of(&now) < deadline);
    late[i] = (double)(ns_of(&now) - deadline) / 1e3;
    spun[i] = (double)(ns_of(&now) - spin_start) / 1e3;
  }
  qsort(late, (size_t)ticks, sizeof(double), cmp);
  qsort(spun, (size_t)ticks, sizeof(double), cmp);
  printf("{\"rate_hz\":%.1f,\"ticks\":%ld,\"spin_us\":%ld,\"period_error_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
         "\"spun_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}\n",
         rate, ticks, spin_us, late[ticks / 2], late[(long)(ticks * 0.99)], late[ticks - 1],
         spun[ticks / 2], spun[(long)(ticks * 0.99)], spun[ticks - 1]);
  free(late);
  free(spun);
  return 0;
}
