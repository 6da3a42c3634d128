/* core/dashboard.c: the dashboard's ring of recent request summaries, in the shared-memory
 * region (store/shm.h, struct sl_shm_dash): the request path's only dashboard work. One
 * idea: a fixed-size copy per finished request under one atomic sequence number, read back
 * with a seqlock check, so a page that is not open costs a memcpy and no allocation. To
 * record something new: a field in struct sl_dash_rec, filled in sl_dashboard_record. */
#include "core/dashboard.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#include "core/dashboard_internal.h"
#include "core/request_internal.h"
#include "core/summary.h"

uint64_t sl_dash_ring_head(const struct sl_shm_dash *d) {
  return atomic_load_explicit(&((struct sl_shm_dash *)d)->head, memory_order_acquire);
}

uint64_t sl_dash_ring_write(struct sl_shm_dash *d, const struct sl_dash_rec *rec) {
  uint64_t n = atomic_fetch_add_explicit(&d->head, 1, memory_order_relaxed);
  struct sl_dash_rec *slot = &d->ring[n % SL_DASH_RING];
  atomic_store_explicit(&slot->seq, 2 * n + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  /* everything after seq */
  memcpy((char *)slot + sizeof slot->seq, (const char *)rec + sizeof rec->seq, sizeof *rec - sizeof rec->seq);
  atomic_store_explicit(&slot->seq, 2 * n + 2, memory_order_release);
  return n;
}

bool sl_dash_ring_read(const struct sl_shm_dash *d, uint64_t n, struct sl_dash_rec *out) {
  return sl_dash_ring_read_part(d, n, out, sizeof *out);
}

bool sl_dash_ring_read_numbers(const struct sl_shm_dash *d, uint64_t n, struct sl_dash_rec *out) {
  return sl_dash_ring_read_part(d, n, out, offsetof(struct sl_dash_rec, id));
}

bool sl_dash_ring_read_part(const struct sl_shm_dash *d, uint64_t n, struct sl_dash_rec *out, size_t upto) {
  const struct sl_dash_rec *slot = &d->ring[n % SL_DASH_RING];
  uint64_t s1 = atomic_load_explicit(&((struct sl_dash_rec *)slot)->seq, memory_order_acquire);
  if (s1 != 2 * n + 2) return false;
  if (upto > sizeof *out) upto = sizeof *out;
  memcpy((char *)out + sizeof out->seq, (const char *)slot + sizeof slot->seq, upto - sizeof out->seq);
  atomic_thread_fence(memory_order_acquire);
  uint64_t s2 = atomic_load_explicit(&((struct sl_dash_rec *)slot)->seq, memory_order_relaxed);
  if (s2 != s1) return false;
  atomic_store_explicit(&out->seq, n, memory_order_relaxed); /* the copy holds n itself */
  return true;
}

size_t sl_dash_ring_tail(const struct sl_shm_dash *d, uint64_t after, struct sl_dash_rec *out, size_t max,
                         uint64_t *dropped) {
  uint64_t head = sl_dash_ring_head(d), lost = 0;
  size_t k = 0;
  /* seq numbers are 0-based; `after` is a seq already seen, UINT64_MAX: none seen */
  uint64_t first = after == UINT64_MAX ? 0 : after + 1;
  if (head > SL_DASH_RING && first < head - SL_DASH_RING) {
    lost += head - SL_DASH_RING - first;
    first = head - SL_DASH_RING;
  }
  for (uint64_t n = head; n > first && k < max; n--) {
    if (sl_dash_ring_read(d, n - 1, &out[k]))
      k++;
    else
      lost++;
  }
  if (dropped) *dropped = lost;
  return k;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t n) {
  if (!src) n = 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(dst, src, n);
  dst[n] = 0;
}
static void copy_cstr(char *dst, size_t cap, const char *src) { copy_str(dst, cap, src, src ? strlen(src) : 0); }
#define COPY(dst, src) copy_cstr(dst, sizeof dst, src)

static uint32_t ms32(uint64_t v) { return v >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)v; }

void sl_dashboard_record(struct sl_request *rq, const struct sl_request_summary *s) {
  struct sl_worker *w = rq->w;
  if (!w || !w->shm) return;
  if (s->route == SL_R_UI_API) { /* the dashboard's own calls are not shown in it */
    sl_dashboard_stream_gone(rq);
    return;
  }
  if (s->path.n >= 3 && !memcmp(s->path.p, "/ui", 3) && (s->path.n == 3 || s->path.p[3] == '/')) return;
  struct sl_dash_rec r;
  memset(&r, 0, sizeof r);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t wall = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  uint64_t lat = s->t_end_ms >= s->t0_ms ? s->t_end_ms - s->t0_ms : 0;
  r.ts_ms = wall > lat ? wall - lat : wall;
  r.end_mono_ms = s->t_end_ms;
  r.latency_ms = ms32(lat);
  r.ttft_ms = s->t_first_ms && s->t_first_ms >= s->t0_ms ? ms32(s->t_first_ms - s->t0_ms) : UINT32_MAX;
  r.upstream_ms = s->has_upstream_ms ? ms32(s->upstream_ms) : UINT32_MAX;
  r.group_index = (int32_t)s->group_index;
  r.fallback_index = -1;
  r.tokens_in = s->tokens_in;
  r.tokens_out = s->tokens_out;
  r.cost_pico = s->cost_pico;
  r.router_score = s->router_scored ? s->router_score : 0;
  r.status = (uint16_t)(s->status > 0 && s->status < 65536 ? s->status : 0);
  r.cache = (uint8_t)s->cache;
  r.hedges_fired = (uint8_t)(s->hedges_fired > 255 ? 255 : s->hedges_fired);
  r.flags = (uint8_t)((s->stream ? 1 : 0) | (s->router_scored ? 2 : 0) | (s->hedge_won ? 4 : 0) | (!s->key ? 16 : 0));
  r.router_index = rq->router ? (int16_t)rq->router->index : -1;
  r.router_would = rq->router_would ? (int16_t)rq->router_would->index : -1;
  const struct sl_group *prev = rq->natt ? rq->att[0]->group : NULL;
  for (int i = 0; i < rq->natt; i++) {
    const struct sl_attempt *at = rq->att[i];
    if (at->group && at->group != prev && !at->hedge) {
      if (r.nfallbacks < 4) r.fallbacks[r.nfallbacks++] = (int16_t)at->group->index;
      prev = at->group;
    }
    if (i >= SL_DASH_ATTEMPTS) {
      r.flags |= 8;
      continue;
    }
    struct sl_dash_attempt *a = &r.att[r.natt++];
    a->dep = (int32_t)at->dep;
    a->group = at->group ? (int16_t)at->group->index : -1;
    a->status = (uint16_t)(at->status > 0 && at->status < 65536 ? at->status : 0);
    a->outcome = (uint8_t)at->outcome;
    a->flags = (uint8_t)((at->hedge ? 1 : 0) | (at->probe ? 2 : 0));
    a->start_ms = at->t_start >= s->t0_ms ? ms32(at->t_start - s->t0_ms) : 0;
    uint64_t end = at->t_end ? at->t_end : s->t_end_ms;
    a->dur_ms = end >= at->t_start && at->t_start ? ms32(end - at->t_start) : 0;
  }
  if (s->fallback) {
    const struct sl_attempt *last = rq->winner ? rq->winner : rq->natt ? rq->att[rq->natt - 1] : NULL;
    if (last && last->group) r.fallback_index = (int32_t)last->group->index;
  }
  COPY(r.id, s->request_id);
  r.method_len = (uint8_t)(s->method.n < sizeof r.method ? s->method.n : sizeof r.method - 1);
  copy_str(r.method, sizeof r.method, s->method.p, s->method.n);
  copy_str(r.path, sizeof r.path, s->path.p, s->path.n);
  COPY(r.key, s->key);
  COPY(r.router_reason, s->router ? s->router_reason : NULL);
  COPY(r.err, s->status >= 400 ? s->err_code : NULL);
  sl_dash_ring_write(&w->shm->dash, &r);
}
