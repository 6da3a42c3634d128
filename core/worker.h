/* One worker process: a single-threaded libuv loop that owns its SO_REUSEPORT
 * listener, its client connections and its upstream pools. Everything a request needs
 * hangs off this struct; there is no other mutable state in a worker. */
#ifndef SL_CORE_WORKER_H
#define SL_CORE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config/config.h"
#include "net/base/pool.h"
#include "net/http_server.h"
#include "net/upstream.h"
#include "store/shm.h"

struct sl_request;
struct sl_lmdb;
struct sl_cache;
struct sl_resp_store;
struct sl_selfcall_state;
struct sl_keys;
struct sl_spend_flusher;
struct sl_price;
struct sl_master_ctl;
struct sl_reload_wait;
struct sl_trace_state;

struct sl_worker {
  uv_loop_t loop;
  const struct sl_config *cfg;
  struct sl_shm *shm;
  unsigned index;
  struct sl_server *srv;
  struct sl_tls_ctx *tls;
  struct sl_upstream_pool **pools; /* one per deployment, made on first use */
  struct sl_group *groups; /* cfg->plan's groups (plan.h); each worker sets their spend_id */
  size_t ngroups;
  const char *models_json; /* GET /v1/models body: cfg->plan's */
  size_t models_json_len;
  uint64_t next_req;
  uint64_t rng; /* xorshift64* state for routing decisions */
  struct sl_lmdb *lmdb;            /* the cache's environment; NULL when off or unopenable */
  struct sl_lmdb *tenancy;         /* keys + spend ledger (DATA_DIR/tenancy); NULL when unused */
  struct sl_cache *cache;
  struct sl_lmdb *resp_lmdb;        /* stored responses (DATA_DIR/responses), opened on first use */
  struct sl_resp_store *resp_store;
  bool resp_store_failed;           /* it could not be opened: not tried again */
  struct sl_lmdb *vec_lmdb;         /* vectors (DATA_DIR/vectors: core/vectors.h), opened on first use */
  bool vec_lmdb_failed;
  struct sl_judge_day { int64_t day; double spent_usd; } judge_days[64]; /* cascade judges' spend (core/cascade.c) */
  struct sl_lmdb *fb_lmdb;          /* router feedback (DATA_DIR/feedback: core/router_online.h), on first use */
  struct sl_fb *fb;
  bool fb_failed;
  struct sl_online *online;         /* online routers' state copies (core/router_online.c) */
  struct sl_vindex *semcache;       /* the semantic cache's vectors (core/semcache.c), opened on first use */
  bool semcache_failed;
  struct sl_request *sf_table[256]; /* single-flight leaders by cache-key byte 0 */
  struct sl_keys *keys;            /* virtual keys (NULL without a store or a master key) */
  struct sl_spend_flusher *flusher;
  struct sl_price *prices;         /* per deployment, USD per token */
  size_t inflight;
  struct sl_pool arena_pool; /* blocks of the requests' arenas (net/base/arena.h) */
  uint64_t accept_errors, accept_err_logged_ms; /* accept failures since the last log line */
  size_t released; /* request-body and connection bytes freed since the last heap trim */
  bool draining;
  uv_signal_t sig_term, sig_int, sig_usr1;
  uv_timer_t drain_poll, drain_deadline;
  uv_timer_t heartbeat;               /* shm->workers[index].heartbeat_ms, for the watchdog */
  int ready_fd;                       /* to the master: ready, then draining; -1 once closed */
  struct sl_master_ctl *ctl;          /* shared with the master (reload requests) */
  struct sl_reload_wait *reload_waits; /* pending sl_worker_request_reload calls */
  struct sl_router_state *router_state;   /* per router (core/router.c) */
  struct sl_route_scratch *route_scratch; /* the learned routers' feature scratch */
  char *route_text;                       /* the prompt a router reads (max_routed_bytes) */
  struct sl_selfcall_state *selfcall;     /* calls to this worker's own listener (core/selfcall.c) */
  uint16_t listen_port;                   /* the port this worker's socket is bound to */
  struct sl_cluster *cluster;             /* cluster mode (core/cluster.h); NULL: one host */
  struct sl_trace_state *trace;           /* OpenTelemetry export (core/trace.c); NULL: none yet */
  struct sl_dash_streams *dash;           /* open dashboard streams (core/dashboard_stream.c); NULL: none yet */
};

/* Runs a worker to completion; returns the process exit code. listen_fd comes from
 * sl_net_bind_reuseport (the worker owns it). Two-byte records go to ready_fd (the
 * worker owns it too): {SL_WORKER_READY, index} once it accepts, {SL_WORKER_DRAINING,
 * index} once it has stopped accepting. ctl may be NULL (then reload requests fail with
 * -ESRCH). */
#define SL_WORKER_READY 'R'
#define SL_WORKER_DRAINING 'D'
int sl_worker_run(const struct sl_config *cfg, struct sl_shm *shm, struct sl_master_ctl *ctl,
                  unsigned index, int listen_fd, int ready_fd);

/* POST /config/reload: asks the master to re-read its config file (SIGHUP) and calls cb
 * exactly once, from the worker loop (never from inside this call), with the outcome:
 *   0           reloaded: new workers serve the new config, this worker drains
 *   -EINVAL     the config is invalid: nothing changed; message is the loader's error
 *               (file:line: key.path: why), already logged by the master
 *   -EIO        new workers failed to start: nothing changed
 *   -ETIMEDOUT  no outcome within timeout_ms (the reload may still complete)
 *   -ESRCH      no master to ask
 *   -ECANCELED  the worker stopped (drain deadline, shutdown) before the outcome came
 * message is a NUL-terminated string, valid only during the call. The answer covers
 * every change made to the file before this call. Returns a handle for
 * sl_worker_reload_cancel (call it if the request goes away first; cb then never runs),
 * or NULL when out of memory (cb never runs). */
typedef void (*sl_reload_cb)(void *ud, int status, const char *message);
struct sl_reload_wait *sl_worker_request_reload(struct sl_worker *w, uint64_t timeout_ms, sl_reload_cb cb,
                                                void *ud);
void sl_worker_reload_cancel(struct sl_reload_wait *h);

/* The group a client's model name means (a group or a model_group_alias): a plan lookup. */
const struct sl_group *sl_worker_group(const struct sl_worker *w, const char *name);
/* The pool of deployment i, created on first use; NULL on failure (err filled). */
struct sl_upstream_pool *sl_worker_pool(struct sl_worker *w, size_t i, char *err, size_t errlen);
uint64_t sl_now_ms(void); /* monotonic */

#endif
