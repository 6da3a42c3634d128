/* Worker process lifecycle: build the per-worker tables (groups, /v1/models body),
 * start listening, serve until SIGTERM/SIGINT, then drain: stop accepting, let
 * in-flight requests finish up to drain_timeout, close the rest and exit 0. */
#include "core/worker.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/reqcache.h"
#include "core/request.h"

uint64_t sl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const struct sl_group *group_named(const struct sl_worker *w, const char *name) {
  for (size_t i = 0; i < w->ngroups; i++)
    if (strcmp(w->groups[i].name, name) == 0) return &w->groups[i];
  return NULL;
}

/* A group by its name or by a router_settings.model_group_alias. */
const struct sl_group *sl_worker_group(const struct sl_worker *w, const char *name) {
  const struct sl_group *g = group_named(w, name);
  for (size_t i = 0; !g && i < w->cfg->naliases; i++)
    if (strcmp(w->cfg->aliases[i].alias, name) == 0) g = group_named(w, w->cfg->aliases[i].group);
  return g;
}

struct sl_upstream_pool *sl_worker_pool(struct sl_worker *w, size_t i, char *err, size_t errlen) {
  if (w->pools[i]) return w->pools[i];
  const struct sl_deployment *d = &w->cfg->deployments[i];
  if (d->tls && !w->tls) {
    int rc = sl_tls_ctx_create(w->cfg->ca_file, &w->tls, err, errlen);
    if (rc) return NULL;
  }
  struct sl_upstream_pool_opts o = {
    .host = d->host,
    .port = d->port,
    .tls = d->tls,
    .tls_ctx = w->tls,
    .connect_timeout_ms = w->cfg->connect_timeout_ms,
  };
  if (sl_upstream_pool_create(&w->loop, &o, &w->pools[i])) {
    snprintf(err, errlen, "cannot create connection pool");
    return NULL;
  }
  return w->pools[i];
}

static int build_groups(struct sl_worker *w) {
  const struct sl_config *c = w->cfg;
  w->groups = calloc(c->ndeployments, sizeof *w->groups);
  if (!w->groups) return -ENOMEM;
  for (size_t i = 0; i < c->ndeployments; i++) {
    struct sl_group *g = (struct sl_group *)group_named(w, c->deployments[i].model_name);
    if (!g) {
      g = &w->groups[w->ngroups++];
      g->name = c->deployments[i].model_name;
      g->deps = calloc(c->ndeployments, sizeof *g->deps);
      if (!g->deps) return -ENOMEM;
    }
    g->deps[g->n++] = i;
  }
  cJSON *root = cJSON_CreateObject(), *data = cJSON_CreateArray();
  cJSON_AddStringToObject(root, "object", "list");
  cJSON_AddItemToObject(root, "data", data);
  for (size_t i = 0; i < w->ngroups + c->naliases; i++) {
    if (i >= w->ngroups && c->aliases[i - w->ngroups].hidden) continue;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", i < w->ngroups ? w->groups[i].name : c->aliases[i - w->ngroups].alias);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 1677610602);
    cJSON_AddStringToObject(m, "owned_by", "sluice");
    cJSON_AddItemToArray(data, m);
  }
  w->models_json = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!w->models_json) return -ENOMEM;
  w->models_json_len = strlen(w->models_json);
  return 0;
}

static void stop_loop_when_idle(uv_timer_t *t) {
  struct sl_worker *w = t->data;
  if (w->srv && w->inflight == 0 && sl_server_connections(w->srv) == 0) uv_stop(&w->loop);
}

static void on_drain_deadline(uv_timer_t *t) {
  struct sl_worker *w = t->data;
  sl_log(SL_LOG_WARN, "drain timeout", "\"worker\":%u,\"inflight\":%zu", w->index, w->inflight);
  sl_server_close(w->srv);
  w->srv = NULL;
  uv_stop(&w->loop);
}

static void on_stop_signal(uv_signal_t *s, int signum) {
  struct sl_worker *w = s->data;
  if (w->draining) return;
  w->draining = true;
  sl_log(SL_LOG_INFO, "worker draining", "\"worker\":%u,\"inflight\":%zu", w->index, w->inflight);
  sl_server_drain(w->srv);
  uv_timer_start(&w->drain_poll, stop_loop_when_idle, 0, 20);
  uv_timer_start(&w->drain_deadline, on_drain_deadline, w->cfg->drain_timeout_ms, 0);
}

static void close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void free_worker(struct sl_worker *w) {
  for (size_t i = 0; i < w->ngroups; i++) free(w->groups[i].deps);
  free(w->groups);
  free(w->pools);
  cJSON_free(w->models_json);
  if (w->tls) sl_tls_ctx_free(w->tls);
}

int sl_worker_run(const struct sl_config *cfg, struct sl_shm *shm, unsigned index, int listen_fd,
                  int ready_fd) {
  struct sl_worker *w = calloc(1, sizeof *w);
  if (!w) return 1;
  w->cfg = cfg;
  w->shm = shm;
  w->index = index;
  w->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;
  w->pools = calloc(cfg->ndeployments ? cfg->ndeployments : 1, sizeof *w->pools);
  if (!w->pools || build_groups(w) || uv_loop_init(&w->loop)) {
    sl_log(SL_LOG_ERROR, "worker init failed", "\"worker\":%u", index);
    return 1;
  }
  struct sl_server_opts so = {
    .limits = {.max_header_bytes = cfg->max_header_bytes, .max_body_bytes = cfg->max_body_bytes,
               .max_headers = 100},
    .header_timeout_ms = cfg->header_timeout_ms,
    .body_timeout_ms = cfg->body_timeout_ms,
    .keepalive_timeout_ms = cfg->keepalive_timeout_ms,
  };
  struct sl_server_cbs cbs = {sl_request_on_http, sl_request_on_abort, sl_request_on_writable};
  int rc = sl_server_start(&w->loop, listen_fd, &so, &cbs, w, &w->srv);
  if (rc) {
    sl_log(SL_LOG_ERROR, "worker listen failed", "\"worker\":%u,\"error\":\"%s\"", index, uv_strerror(rc));
    return 1;
  }
  uv_signal_init(&w->loop, &w->sig_term);
  uv_signal_init(&w->loop, &w->sig_int);
  w->sig_term.data = w->sig_int.data = w;
  uv_signal_start(&w->sig_term, on_stop_signal, SIGTERM);
  uv_signal_start(&w->sig_int, on_stop_signal, SIGINT);
  uv_timer_init(&w->loop, &w->drain_poll);
  uv_timer_init(&w->loop, &w->drain_deadline);
  w->drain_poll.data = w->drain_deadline.data = w;
  atomic_store(&shm->workers[index].pid, (int32_t)getpid());
  sl_reqcache_open(w); /* after fork: an LMDB environment never crosses one */

  if (ready_fd >= 0) {
    char b = (char)index;
    if (write(ready_fd, &b, 1) != 1) { /* the master notices a worker that never reports */ }
    close(ready_fd);
  }
  uv_run(&w->loop, UV_RUN_DEFAULT);

  /* Close everything still open (pools, timers, signals) and let the callbacks run. */
  if (w->srv) sl_server_close(w->srv); /* frees the server once its handles have closed */
  for (size_t i = 0; i < cfg->ndeployments; i++)
    if (w->pools[i]) sl_upstream_pool_destroy(w->pools[i]);
  uv_walk(&w->loop, close_walk, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  sl_reqcache_close(w);
  free_worker(w);
  free(w);
  return 0;
}
