/* The request and its attempts, shared by request.c (front half: route, authenticate,
 * parse, respond, log) and attempt.c (back half: upstream attempts, retries,
 * fallbacks, hedging). Not an API for other rooms. */
#ifndef SL_CORE_REQUEST_INTERNAL_H
#define SL_CORE_REQUEST_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/errors.h"
#include "core/attempt_events.h"
#include "core/routes.h"
#include "core/router_online.h"
#include "core/worker.h"
#include "net/base/arena.h"
#include "net/base/buf.h"
#include "policy/choose.h"
#include "policy/outcome.h"
#include "core/region.h"
#include "core/reqcache.h"
#include "core/summary.h"
#include "core/tenancy.h"
#include "core/trace.h"
#include "net/wire/usage.h"
#include "net/wire/xlate.h"

struct sl_stream_chain;

struct sl_oai_asm;

#define SL_MAX_ATTEMPTS 12
#define SL_MAX_FALLBACK_GROUPS 16

struct sl_request;

struct sl_attempt {
  struct sl_request *rq;
  int no;                      /* 1-based */
  size_t dep;                  /* index into cfg->deployments */
  const struct sl_group *group;
  size_t gpos;                 /* position within group */
  struct sl_upstream_req *up;  /* NULL once the exchange ended */
  uv_timer_t timer;            /* first-byte / whole-call / stream-idle deadline */
  bool hedge, probe, live, head, first_byte, streaming;
  bool paused;                 /* upstream reads paused: the client is slow to read the stream */
  bool encoded;                /* the answer has a Content-Encoding sluice did not ask for */
  int status;                  /* upstream status, 0 = none */
  uint64_t retry_after_ms;
  char ra_hdr[64], ra_ms_hdr[32];  /* the provider's Retry-After / retry-after-ms, as sent */
  char ctype[128];
  struct sl_buf resp;          /* buffered body (whole responses, error bodies) */
  struct sl_buf model_val, path, auth;
  char *reserialised;
  uv_buf_t body[11];            /* the body as slices: up to 5 edits (model, usage ask, 3 cut
                                 * fields), each a kept prefix plus its text, then the tail */
  size_t nbody;
  uint64_t t_start, t_first, t_end; /* monotonic ms */
  struct sl_usage usage;       /* what this attempt consumed (reported or estimated) */
  bool has_usage;
  struct sl_usage_filter *uf;  /* streaming winner: reads usage, strips what sluice asked for */
  enum sl_wire uwire;          /* the deployment's wire format */
  struct sl_buf xbody;         /* the request translated into the deployment's format */
  struct sl_xlate_stream *xs;  /* streaming winner of another format: translates its events */
  struct sl_stream_chain *chain; /* streaming winner: framer -> filters -> client (arena) */
  char xerr[256];              /* why the request could not be translated */
  enum sl_attempt_outcome outcome; /* what happened to it (policy/outcome.h); with status for http_<status> */
  bool outside_preferred;      /* its deployment is permitted but not preferred (core/region.h) */
  bool held;                   /* cascade: asked for a whole answer although the client streams
                                * (it is checked first, then replayed as a stream) */
  const char *check_failed;    /* cascade: the check this attempt's answer failed (a static name) */
  bool gated;                  /* cascade (stream_checks: early): the client's bytes are held in
                                * `gate` until the first tokens pass the checks */
  struct sl_buf gate;
  struct sl_oai_asm *gate_asm; /* the held part, assembled to be checked */
  size_t gate_events;
  bool json_tool;              /* the request's response_format went to Anthropic as the forced
                                * tool SL_XLATE_JSON_TOOL: its input is the answer's content */
  struct sl_dialect_att *dl;   /* Bedrock / Vertex AI: the rewritten request and the decoded
                                * answer (core/dialect.h); NULL for other providers */
  uint8_t trace_span[8];       /* its CLIENT span id (core/trace.c); all zero: none yet */
  char traceparent[56];        /* the traceparent sent with it */
  const char *wild_model;      /* a wildcard deployment's upstream model for this request (arena,
                                * core/wildcard.c); NULL: the deployment's own */
};

struct sl_request {
  struct sl_arena *arena; /* the request, its attempts and their fixed state; freed at the end */
  struct sl_worker *w;
  const struct sl_attempt_events *events; /* how the attempts report back (request.c) */
  struct sl_conn *conn; /* NULL once the response has ended or the client left */
  const struct sl_http_request *hr;
  enum sl_route route;
  const char *upstream_path;
  char id[32];
  uint64_t t0_ms;
  cJSON *json;
  bool stream, finished, hedge_off;
  int open_handles;            /* timers still to close before the request is freed */
  uv_timer_t deadline, retry_timer, hedge_timer;

  /* routing state */
  const struct sl_group *group;     /* the group the client asked for (after aliasing) */
  const char *wild_model;           /* "<wildcard group>\x1f<the client's model name it matched>"
                                     * (arena, core/wildcard.c; the name after the last 0x1f,
                                     * which no matched name holds); NULL: an exact name */
  const struct sl_group *cur_group; /* the group being tried (a fallback after the first) */
  bool *tried;                      /* per position of cur_group */
  int attempts_in_group, max_retries;
  const struct sl_group *fallbacks[SL_MAX_FALLBACK_GROUPS];
  int nfallbacks, next_fallback;
  bool fallbacks_built;
  const char *fallback_used;
  int64_t est_tokens;
  uint64_t deadline_ms;             /* absolute, monotonic */
  bool client_deadline;             /* deadline_ms is the client's own timeout: reaching it
                                     * is the client's outcome, never a deployment's failure */
  bool retry_same;                  /* the next attempt may go back to a tried deployment */
  struct sl_attempt *att[SL_MAX_ATTEMPTS];
  int natt, live;
  struct sl_attempt *winner;
  struct sl_attempt *last_failed;   /* the most recent attempt that failed */
  int hedges_fired;
  bool hedge_won;
  struct sl_choice last_choice;     /* why the last choice found nothing */
  struct sl_request_region *region; /* data residency rule (core/region.h); NULL: none */

  /* router (core/router.c): set when the model named a router */
  const struct sl_plan_router *router;
  double router_score;              /* the raw score (router_scored) */
  bool router_scored, router_accounted;
  char router_reason[80];           /* rule:<name>, learned, cost, override, shadow, fallback */
  const struct sl_group *router_would; /* shadow: the target it would have chosen */
  double routellm_threshold;        /* router-<name>-<threshold>; NAN: none */
  bool route_pending;               /* the route stage waits; it calls sl_request_after_route */
  /* cascade (core/cascade.c): the router whose targets are tried cheap first */
  const struct sl_plan_router *cascade;
  int cascade_step;                 /* index into cascade->targets of the group being tried */
  bool cascade_logprobs;            /* sluice asked for logprobs (the client did not): strip them */
  char cascade_failed[64];          /* the checks that failed, comma-separated (header, log) */
  struct sl_attempt *cascade_keep;  /* the last step's answer, served when no later target answers */
  struct sl_learn_rq learn;         /* online learning (core/router_online.h) */

  /* cache */
  enum sl_cache_state cache_state;
  bool cache_store;                 /* fill the cache from a successful answer */
  bool include_usage;               /* stream_options.include_usage (for replays) */
  uint8_t ckey[32];
  int64_t cache_ttl_s, cache_age_s;
  int64_t cache_max_age_s;          /* the client's limit on a served entry's age; -1: any */
  struct sl_oai_asm *asm_;          /* assembling the winning stream */
  char *fill_json;                  /* the answer, kept for single-flight followers */
  size_t fill_len;
  struct sl_request *sf_leader;     /* follower: the request whose answer it waits for */
  struct sl_request *sf_followers;  /* leader: who waits for its answer */
  struct sl_request *sf_next;       /* link in a leader's followers, or in a table bucket */
  bool sf_registered;
  bool cache_semantic;              /* served from the semantic cache (x-sluice-cache: semantic) */
  float cache_similarity;           /* its similarity (x-sluice-cache-similarity) */
  struct sl_semcache_req *sem;      /* the prompt's vector, added on fill (core/semcache.c) */

  /* tenancy: who is calling, what they may spend */
  struct sl_key_record *key;        /* the virtual key used; NULL for the master key / no auth */
  struct sl_tenancy_hold hold;      /* what admission took: given back when accounted */
  struct sl_buf rl_hdrs;            /* x-ratelimit-* lines */
  int usage_ask;                    /* enum sl_usage_ask for this body */
  struct sl_usage_splice inject;    /* where to ask the upstream for stream usage */
  bool winner_streams;              /* the response is a stream (cost goes in a trailer) */
  enum sl_wire cwire;               /* the client's wire format (Anthropic on /v1/messages) */

  /* accounting: filled from the provider's usage */
  int64_t tokens_in, tokens_out;    /* of every attempt that consumed tokens */
  int64_t cost_micro;               /* USD x 1e6, the request's total (saturating) */
  int64_t cost_pico;                /* USD x 1e12, exact, saturating: what budgets compare */
  bool usage_estimated;             /* some usage was estimated, not reported */
  bool usage_implausible;           /* a provider reported absurd usage; an estimate replaced it */

  /* response */
  int status;
  const char *err_code;             /* the wire string of err, or an attempt outcome (attempt.c sets it) */
  enum sl_err err;
  struct sl_buf hdrs;               /* x-sluice-* lines, built when the response starts */
  /* the Responses API (core/responses.c) */
  cJSON *resp_req;                  /* the client's request as sent, when rq->json is its
                                     * expansion (previous_response_id); NULL otherwise */
  char resp_id[64];                 /* the id a translated answer gets ("resp_" + hex) */
  bool resp_reserialise;            /* the body upstream is rq->json printed (expanded) */
  bool resp_store;                  /* keep the answer (the request's store, default true) */
  bool resp_kept;                   /* it was kept (or could not be) */
  bool resp_done_seen;              /* a native stream sent its terminal event */
  struct sl_buf resp_final;         /* a native stream's final response object */
  /* multipart/form-data (audio transcriptions): the model field's value in the body */
  bool multipart;
  size_t mp_vs, mp_ve;
  bool token_count_estimated;       /* count_tokens answered by sluice's estimate */
  struct sl_trace_rq trace;         /* OpenTelemetry context (core/trace.h) */
};

/* attempt_shape.c: whether a 2xx body is the route's answer (a JSON object of its
 * shape: choices for chat and completions, data for embeddings, a message for
 * /v1/messages), so that nothing else is passed on or stored as one. The same pass finds
 * the top-level "usage" object: its range in *usage_at / *usage_len (0 when absent). */
bool sl_attempt_body_is_answer(enum sl_route route, const char *p, size_t n, size_t *usage_at, size_t *usage_len);

/* attempt_send.c: builds the attempt's body slices (at->body), path (at->path) and
 * headers (into hs, at most SL_ATTEMPT_MAX_HEADERS; their count in *nh). 0; -2 when the
 * request cannot be said in the deployment's format (at->xerr says why); -1 otherwise. */
#define SL_ATTEMPT_MAX_HEADERS 14 /* 8, traceparent + tracestate, and a dialect's X-Amz-Date,
                                   X-Amz-Security-Token, Authorization */
int sl_attempt_request_build(struct sl_attempt *at, struct sl_header *hs, size_t *nh);

/* request.c */
void sl_request_finish(struct sl_request *rq);
/* The spine after the route stage (Responses stage, admission, cache, attempts). A route
 * stage that must wait (an embedding to fetch) sets rq->route_pending, keeps the request
 * alive (sl_request_release) and calls this when it has set rq->group; a request that
 * ended meanwhile (client gone) is left alone. */
void sl_request_after_route(struct sl_request *rq);
/* The spine after admission (cache, attempts), or the refusal av says; nothing when the
 * request ended meanwhile. Cluster admission (core/cluster_admit.c) calls it when its
 * Redis reply comes. */
struct sl_admit_verdict;
void sl_request_admit_resume(struct sl_request *rq, const struct sl_admit_verdict *av);
/* The request's summary record as of now (core/summary.h); attempts_json left NULL.
 * now_ms: the end time to record. */
void sl_request_summarize(const struct sl_request *rq, uint64_t now_ms, struct sl_request_summary *s);
/* Accounts the request's spend once (tenancy), from its summary: called before the
 * answer's last bytes leave, and again (a no-op then) when it ends. */
void sl_request_account(struct sl_request *rq);
/* Serves a complete stored answer (a cache hit, or a single-flight leader's answer):
 * JSON as is, or replayed as an SSE stream. False (nothing sent) when it cannot be
 * replayed; the caller then goes upstream. */
bool sl_request_serve_cached(struct sl_request *rq, const char *json, size_t len, int64_t age_s);
/* The semantic cache's lookup that waited for an embedding is done: served (nothing to
 * do), or go on as after a miss (single flight, then upstream). */
void sl_request_cache_resume(struct sl_request *rq, bool served);
/* A step that is not one of the request's handles (a thread-pool job, a reload wait)
 * keeps the request's memory alive: rq->open_handles++ before it starts, then one
 * sl_request_release(rq) when it ends (the last release frees the request). */
void sl_request_release(struct sl_request *rq);

/* attempt.c */
void sl_attempts_start(struct sl_request *rq);
/* Arms only the request deadline (a single-flight follower waits under it). */
void sl_attempts_arm_deadline(struct sl_request *rq);
void sl_attempts_cancel_all(struct sl_request *rq);
/* The client's connection drained: a stream paused for back-pressure reads on. */
void sl_attempts_on_writable(struct sl_request *rq);
void sl_attempts_free(struct sl_request *rq);
/* JSON array of the attempts for the access log. */
void sl_attempts_log(const struct sl_request *rq, struct sl_buf *b);

/* Wildcard deployments (core/wildcard.c). The group a client's name matches by pattern, when
 * no exact name did (rq->wild_model set), or NULL. */
const struct sl_group *sl_wild_group(struct sl_request *rq, const char *name);
/* Sets at->wild_model for a wildcard deployment: 0, or -1 (out of memory). */
int sl_wild_attempt_prepare(struct sl_attempt *at);
/* The model the attempt sends upstream: its wildcard model, else the deployment's. */
const char *sl_attempt_model(const struct sl_attempt *at);
/* The attempt's price per token: a wildcard deployment without configured prices is priced
 * as its upstream model (the built-in table), else the deployment's price. */
const struct sl_price *sl_attempt_price(const struct sl_attempt *at);
/* The group name the response cache keys rq under: the group, plus the matched name for a
 * wildcard group (the key leaves the body's model out). */
const char *sl_wild_cache_group(struct sl_request *rq);

#endif
