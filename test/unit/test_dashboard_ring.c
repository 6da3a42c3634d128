/* dashboard ring (core/dashboard.c): the shared-memory ring of recent request summaries.
 * Wraparound keeps the newest SL_DASH_RING records, tails are newest first with the
 * overwritten ones counted as dropped, a slot being written is never read, and a reader
 * racing a writer in another process (fork, a MAP_SHARED ring) only ever gets whole
 * records: every field of record n is derived from n and checked. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/dashboard_internal.h"

static void fill(struct sl_dash_rec *r, uint64_t n) {
  memset(r, 0, sizeof *r);
  snprintf(r->id, sizeof r->id, "r%" PRIu64, n);
  r->tokens_in = (int64_t)n;
  r->tokens_out = (int64_t)(2 * n);
  r->cost_pico = (int64_t)(3 * n);
  r->latency_ms = (uint32_t)(n & 0xffffff);
  r->natt = SL_DASH_ATTEMPTS;
  for (int i = 0; i < SL_DASH_ATTEMPTS; i++) r->att[i].dur_ms = (uint32_t)(n + (uint64_t)i);
  snprintf(r->key, sizeof r->key, "k%" PRIu64, n * 7);
}

static bool consistent(const struct sl_dash_rec *r, uint64_t n) {
  char id[SL_DASH_ID], key[SL_DASH_NAME];
  snprintf(id, sizeof id, "r%" PRIu64, n);
  snprintf(key, sizeof key, "k%" PRIu64, n * 7);
  if (strcmp(r->id, id) || strcmp(r->key, key)) return false;
  if (r->tokens_in != (int64_t)n || r->tokens_out != (int64_t)(2 * n) || r->cost_pico != (int64_t)(3 * n)) return false;
  if (r->latency_ms != (uint32_t)(n & 0xffffff) || r->natt != SL_DASH_ATTEMPTS) return false;
  for (int i = 0; i < SL_DASH_ATTEMPTS; i++)
    if (r->att[i].dur_ms != (uint32_t)(n + (uint64_t)i)) return false;
  return atomic_load(&((struct sl_dash_rec *)r)->seq) == n;
}

static struct sl_shm_dash *new_ring(bool shared) {
  void *p = mmap(NULL, sizeof(struct sl_shm_dash), PROT_READ | PROT_WRITE,
                 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void empty_ring(void) {
  struct sl_shm_dash *d = new_ring(false);
  CHECK(d != NULL);
  struct sl_dash_rec r, out[4];
  uint64_t dropped = 99;
  CHECK(sl_dash_ring_head(d) == 0);
  CHECK(!sl_dash_ring_read(d, 0, &r));
  CHECK(sl_dash_ring_tail(d, UINT64_MAX, out, 4, &dropped) == 0 && dropped == 0);
  munmap(d, sizeof *d);
}

static void wraparound(void) {
  struct sl_shm_dash *d = new_ring(false);
  CHECK(d != NULL);
  struct sl_dash_rec r;
  const uint64_t total = 3 * SL_DASH_RING + 5;
  for (uint64_t n = 0; n < total; n++) {
    fill(&r, n);
    CHECK(sl_dash_ring_write(d, &r) == n);
  }
  CHECK(sl_dash_ring_head(d) == total);
  /* the newest SL_DASH_RING are there and whole; older ones are gone */
  CHECK(sl_dash_ring_read(d, total - 1, &r) && consistent(&r, total - 1));
  CHECK(sl_dash_ring_read(d, total - SL_DASH_RING, &r) && consistent(&r, total - SL_DASH_RING));
  CHECK(!sl_dash_ring_read(d, total - SL_DASH_RING - 1, &r));
  CHECK(!sl_dash_ring_read(d, 0, &r));
  CHECK(!sl_dash_ring_read(d, total, &r)); /* not written yet */
  /* a tail: newest first */
  struct sl_dash_rec *out = malloc(SL_DASH_RING * sizeof *out);
  CHECK(out != NULL);
  if (!out) return;
  uint64_t dropped = 0;
  size_t k = sl_dash_ring_tail(d, UINT64_MAX, out, 10, &dropped);
  CHECK(k == 10);
  for (size_t i = 0; i < k; i++) CHECK(consistent(&out[i], total - 1 - i));
  /* from a cursor: only what came after it */
  k = sl_dash_ring_tail(d, total - 4, out, 10, &dropped);
  CHECK(k == 3 && dropped == 0 && consistent(&out[0], total - 1) && consistent(&out[2], total - 3));
  CHECK(sl_dash_ring_tail(d, total - 1, out, 10, &dropped) == 0);
  /* a cursor that fell out of the ring: the rest is whole, the overwritten are dropped */
  k = sl_dash_ring_tail(d, 10, out, SL_DASH_RING, &dropped);
  CHECK(k == SL_DASH_RING);
  CHECK(dropped == total - SL_DASH_RING - 11);
  CHECK(consistent(&out[k - 1], total - SL_DASH_RING));
  free(out);
  munmap(d, sizeof *d);
}

static void busy_slot_is_skipped(void) {
  struct sl_shm_dash *d = new_ring(false);
  CHECK(d != NULL);
  struct sl_dash_rec r, out[4];
  for (uint64_t n = 0; n < 3; n++) {
    fill(&r, n);
    sl_dash_ring_write(d, &r);
  }
  /* record 1 as if its writer were in the middle of it (or died there) */
  atomic_store(&d->ring[1].seq, 2 * 1 + 1);
  CHECK(!sl_dash_ring_read(d, 1, &r));
  uint64_t dropped = 0;
  size_t k = sl_dash_ring_tail(d, UINT64_MAX, out, 4, &dropped);
  CHECK(k == 2 && dropped == 1 && consistent(&out[0], 2) && consistent(&out[1], 0));
  munmap(d, sizeof *d);
}

/* A writer process and this reader on one MAP_SHARED ring: no read returns a mixed
 * record. The writer stops after a fixed count; the reader reads until it has. */
static void concurrent_reader_sees_whole_records(void) {
  struct sl_shm_dash *d = new_ring(true);
  CHECK(d != NULL);
  if (!d) return;
  const uint64_t total = 400000;
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct sl_dash_rec r;
    for (uint64_t n = 0; n < total; n++) {
      fill(&r, n);
      sl_dash_ring_write(d, &r);
    }
    _exit(0);
  }
  uint64_t ok = 0, bad = 0, misses = 0;
  struct sl_dash_rec r;
  for (;;) {
    uint64_t head = sl_dash_ring_head(d);
    if (head) {
      /* the newest (often being written) and one that is about to be overwritten */
      uint64_t probes[2] = {head - 1, head > SL_DASH_RING ? head - SL_DASH_RING : 0};
      for (int i = 0; i < 2; i++) {
        if (sl_dash_ring_read(d, probes[i], &r)) {
          if (consistent(&r, probes[i]))
            ok++;
          else
            bad++;
        } else {
          misses++;
        }
      }
    }
    if (head >= total) break;
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(bad == 0);
  CHECK(ok > 0);
  CHECK(sl_dash_ring_read(d, total - 1, &r) && consistent(&r, total - 1));
  printf("  (concurrent: %" PRIu64 " whole reads, %" PRIu64 " refused while written, 0 torn)\n", ok, misses);
  munmap(d, sizeof *d);
}

int main(void) {
  static const struct check_case cases[] = {
      {"empty_ring", empty_ring},
      {"wraparound", wraparound},
      {"busy_slot_is_skipped", busy_slot_is_skipped},
      {"concurrent_reader_sees_whole_records", concurrent_reader_sees_whole_records},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
