/* An absolute CLOCK_MONOTONIC deadline ms from now, for the store threads'
 * pthread_cond_timedwait (their condition variables use the monotonic clock). */
#ifndef SL_STORE_DEADLINE_H
#define SL_STORE_DEADLINE_H

#include <time.h>

static inline void sl_store_deadline_after(struct timespec *ts, unsigned ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

#endif
