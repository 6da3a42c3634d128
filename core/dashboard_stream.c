/* core/dashboard_stream.c: GET /ui/api/stream, the dashboard's server-sent events (shape in
 * core/dashboard.h). The one idea: one 1 s timer per worker, running only while a stream of
 * that worker is open, builds each event once (overview, deployments, and the requests
 * recorded in the ring since the previous tick) and writes the same bytes to every open
 * stream; a stream that connected later, or fell behind, gets its own requests event from
 * its own cursor. A stream ends when its client leaves (sl_request_finish tells us through
 * sl_dashboard_record) or when the worker drains (sl_dashboard_streams_close). To add an
 * event: build it once in tick() and write it with send_all(). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/admin_internal.h"
#include "core/dashboard.h"
#include "core/dashboard_internal.h"
#include "core/master.h"
#include "core/request_internal.h"
#include "core/respond.h"

#define TICK_MS            1000
#define MAX_REQS           100        /* per requests event: the newest; the rest are counted in "dropped" */
#define SLOW_CLIENT_BYTES  (1u << 20) /* unsent bytes above which a stream skips a tick */
#define STUCK_CLIENT_BYTES (8u << 20) /* ... and above which it is ended */

struct dash_stream {
  struct sl_request *rq;
  uint64_t cursor; /* last seq sent; UINT64_MAX: none */
  struct dash_stream *next;
};

struct sl_dash_streams {
  uv_timer_t timer;
  struct dash_stream *head;
  size_t n;
  uint64_t cursor; /* the seq the previous tick's shared requests event ended at */
  bool closing;
};

static void event(struct sl_buf *b, const char *name, cJSON *o) {
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  if (!s) return;
  sl_buf_printf(b, "event: %s\ndata: %s\n\n", name, s);
  free(s);
}

/* The requests event from cursor `after` (UINT64_MAX: none) up to the ring's head; *to: the
 * seq it ends at. */
static void requests_event(struct sl_worker *w, uint64_t after, struct sl_buf *b, uint64_t *to) {
  const struct sl_shm_dash *d = &w->shm->dash;
  struct sl_dash_rec *recs = malloc(MAX_REQS * sizeof *recs);
  uint64_t dropped = 0, head = sl_dash_ring_head(d);
  size_t n = 0;
  if (recs) {
    /* the newest MAX_REQS: older ones are dropped */
    uint64_t from = after;
    if (head && (after == UINT64_MAX ? head : head - 1 - after) > MAX_REQS) {
      uint64_t skip_to = head - 1 - MAX_REQS;
      dropped = (after == UINT64_MAX ? skip_to + 1 : skip_to - after);
      from = skip_to;
    }
    uint64_t lost = 0;
    n = sl_dash_ring_tail(d, from, recs, MAX_REQS, &lost);
    dropped += lost;
  }
  *to = head ? head - 1 : UINT64_MAX;
  sl_buf_printf(b, "event: requests\ndata: {\"cursor\":%lld,\"dropped\":%llu,\"requests\":[",
                head ? (long long)(head - 1) : -1LL, (unsigned long long)dropped);
  for (size_t i = 0; i < n; i++) {
    if (i) sl_buf_puts(b, ",");
    sl__dash_req_write(w, &recs[i], b);
  }
  sl_buf_puts(b, "]}\n\n");
  free(recs);
}

static void end_stream(struct sl_worker *w, struct dash_stream *s);

static void tick(uv_timer_t *t) {
  struct sl_worker *w = t->data;
  struct sl_dash_streams *ds = w->dash;
  if (!ds || !ds->head) return;
  struct sl_buf common = {0}, reqs = {0};
  cJSON *ov = sl__dash_overview(w), *dp = sl__dash_deployments(w);
  event(&common, "overview", ov);
  event(&common, "deployments", dp);
  cJSON_Delete(ov);
  cJSON_Delete(dp);
  uint64_t shared_to;
  requests_event(w, ds->cursor, &reqs, &shared_to);
  uint64_t prev = ds->cursor;
  ds->cursor = shared_to;
  for (struct dash_stream *s = ds->head, *next; s; s = next) {
    next = s->next;
    size_t pending = sl_respond_pending(s->rq);
    if (pending > STUCK_CLIENT_BYTES) {
      end_stream(w, s);
      continue;
    }
    if (pending > SLOW_CLIENT_BYTES) continue; /* its cursor stays: it catches up later */
    if (!common.oom) sl_respond_stream_write(s->rq, common.p, common.n);
    if (s->cursor == prev) {
      if (!reqs.oom) sl_respond_stream_write(s->rq, reqs.p, reqs.n);
      s->cursor = shared_to;
    } else {
      struct sl_buf own = {0};
      uint64_t to;
      requests_event(w, s->cursor, &own, &to);
      if (!own.oom) sl_respond_stream_write(s->rq, own.p, own.n);
      sl_buf_free(&own);
      s->cursor = to;
    }
  }
  sl_buf_free(&common);
  sl_buf_free(&reqs);
}

static struct sl_dash_streams *streams(struct sl_worker *w) {
  if (w->dash) return w->dash;
  struct sl_dash_streams *ds = calloc(1, sizeof *ds);
  if (!ds) return NULL;
  if (uv_timer_init(&w->loop, &ds->timer)) {
    free(ds);
    return NULL;
  }
  ds->timer.data = w;
  uv_unref((uv_handle_t *)&ds->timer); /* never keeps the loop alive */
  ds->cursor = UINT64_MAX;
  w->dash = ds;
  return ds;
}

/* Unlinks s (the request may go on ending). */
static bool forget(struct sl_worker *w, struct sl_request *rq) {
  struct sl_dash_streams *ds = w->dash;
  if (!ds) return false;
  for (struct dash_stream **pp = &ds->head; *pp; pp = &(*pp)->next) {
    if ((*pp)->rq != rq) continue;
    struct dash_stream *s = *pp;
    *pp = s->next;
    free(s);
    if (--ds->n == 0) uv_timer_stop(&ds->timer);
    return true;
  }
  return false;
}

static void end_stream(struct sl_worker *w, struct dash_stream *s) {
  struct sl_request *rq = s->rq;
  forget(w, rq);
  sl_respond_stream_end(rq); /* ends the request: sl_dashboard_stream_gone finds nothing */
}

void sl_dashboard_stream_gone(struct sl_request *rq) {
  if (rq->w) forget(rq->w, rq);
}

void sl_dashboard_streams_close(struct sl_worker *w) {
  struct sl_dash_streams *ds = w->dash;
  if (!ds) return;
  while (ds->head) end_stream(w, ds->head);
}

void sl_dashboard_stream(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  char after[24] = "";
  uint64_t cursor = UINT64_MAX;
  int q = sl__admin_query(rq, "after", after, sizeof after);
  if (q < 0 || (q > 0 && (!after[0] || strspn(after, "0123456789") != strlen(after)))) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'after' must be a sequence number (a cursor)");
    return;
  }
  uint64_t head = sl_dash_ring_head(&w->shm->dash);
  if (q > 0)
    cursor = strtoull(after, NULL, 10);
  else if (head)
    cursor = head - 1; /* what is recorded from now on */
  if (w->draining) {
    sl_respond_error(rq, 503, SL_ERR_INTERNAL, NULL, "This worker is shutting down; reconnect");
    return;
  }
  struct sl_dash_streams *ds = streams(w);
  struct dash_stream *s = ds ? calloc(1, sizeof *s) : NULL;
  if (!s) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  s->rq = rq;
  s->cursor = cursor;
  s->next = ds->head;
  ds->head = s;
  if (ds->n++ == 0) {
    ds->cursor = head ? head - 1 : UINT64_MAX;
    uv_timer_start(&ds->timer, tick, TICK_MS, TICK_MS);
  }
  sl_respond_stream_start(rq, false);
  struct sl_buf b = {0};
  sl_buf_printf(&b, "event: hello\ndata: {\"generation\":%u,\"worker\":%u,\"cursor\":%lld}\n\n",
                w->ctl ? (unsigned)atomic_load(&w->ctl->generation) : 0u, w->index,
                cursor == UINT64_MAX ? -1LL : (long long)cursor);
  if (!b.oom) sl_respond_stream_write(rq, b.p, b.n);
  sl_buf_free(&b);
}
