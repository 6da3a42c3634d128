/* bench/malloc_count: an LD_PRELOAD shim that counts heap allocations (malloc, calloc,
 * realloc, posix_memalign, aligned_alloc) per process, for "allocations per request /
 * per streamed chunk" (bench/malloc-per-chunk). The one idea: counting between two points
 * is a snapshot on a signal: every process that has the shim appends "pid count" to
 * $MALLOC_COUNT_OUT when it receives SIGRTMIN+5 (async-signal-safe: open/write only), so
 * a script takes one snapshot after the warm-up and one after the measured load and
 * subtracts. The calls go on to glibc's own functions (__libc_malloc & co.), so nothing
 * is resolved with dlsym and the counter works before the dynamic loader is done. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong count;

void *malloc(size_t n) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return __libc_realloc(p, n);
}
int posix_memalign(void **out, size_t al, size_t n) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  void *p = __libc_memalign(al, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
void *aligned_alloc(size_t al, size_t n) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return __libc_memalign(al, n);
}

static size_t utoa(unsigned long v, char *b) {
  char t[24];
  size_t n = 0, k = 0;
  do t[n++] = (char)('0' + v % 10); while ((v /= 10));
  while (n) b[k++] = t[--n];
  return k;
}

static void on_signal(int sig) {
  (void)sig;
  const char *path = getenv("MALLOC_COUNT_OUT");
  if (!path) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return;
  char line[64];
  size_t n = utoa((unsigned long)getpid(), line);
  line[n++] = ' ';
  n += utoa(atomic_load(&count), line + n);
  line[n++] = '\n';
  ssize_t w = write(fd, line, n);
  (void)w;
  close(fd);
}

__attribute__((constructor)) static void init(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGRTMIN + 5, &sa, NULL);
}
