/* Shared by the admin API's files (admin.c: routing, thread-pool jobs, reload;
 * admin_keys.c: /key/... routes; admin_spend.c: /spend/report). Not an API for other rooms.
 *
 * A job is what one admin request does off the event loop: the loop thread parses and
 * checks the request and copies everything the job needs into it (the request's memory
 * may go away if the client leaves: a job never reads rq->hr), a thread-pool thread
 * runs it against the store and writes the answer into the job (a JSON body or an
 * error), and the loop thread sends that answer, unless the client left meanwhile. */
#ifndef SL_CORE_ADMIN_INTERNAL_H
#define SL_CORE_ADMIN_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/errors.h"
#include "net/wire/http_common.h"

struct sl_request;
struct sl_worker;
struct sl_key_record;
struct sl_cluster_spend_view;

struct sl__admin_job {
  uv_work_t work;
  struct sl_request *rq;         /* read only on the loop thread */
  struct sl_worker *w;           /* the thread reads w->keys, w->tenancy, w->shm, w->groups */
  void (*run)(struct sl__admin_job *); /* on a thread-pool thread */
  void (*destroy)(struct sl__admin_job *); /* frees what the job owns besides itself; may be NULL */
  /* the answer, filled by run */
  int status;                    /* 0 until run answers; >= 400: an error */
  enum sl_err err_code;
  char err_msg[512];
  char *body;                    /* JSON, malloc'd (status < 400) */
  size_t len;
  /* cluster mode (core/cluster_keys.h, core/cluster_spend.h) */
  void (*after)(struct sl__admin_job *); /* loop thread, once run answered < 400, before the
                                            answer is sent (even if the client left); may be NULL */
  const char *extra_hdrs;        /* header lines for a successful answer (static text); NULL: none */
  struct sl_cluster_spend_view *spend; /* the other hosts' spend; freed with the job */
};

/* Queues j (allocated by the caller, zeroed apart from run/destroy and its own fields)
 * for rq: the request is held until the job's answer has been handled. On failure it
 * answers 500 and frees j. */
void sl__admin_queue(struct sl_request *rq, struct sl__admin_job *j);
/* In run: the answer is an error. */
void sl__admin_fail(struct sl__admin_job *j, int status, enum sl_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* In run: the answer is obj (printed, then deleted); a 500 when it cannot be printed. */
void sl__admin_ok(struct sl__admin_job *j, int status, cJSON *obj);
/* In run: a store error as an answer (500, or 507 for a full disk). */
void sl__admin_fail_store(struct sl__admin_job *j, const char *what, int rc);

/* Loop thread: answers rq with JSON and ends it. */

/* The request body as a JSON object (an empty body is {} when empty_ok). NULL after
 * answering 400. Refuses duplicate members. The caller deletes it. */
cJSON *sl__admin_body_object(struct sl_request *rq, bool empty_ok);
/* Query parameter `name` of rq, percent-decoded into out. 1 found, 0 absent, -1 too
 * long or malformed. */
int sl__admin_query(const struct sl_request *rq, const char *name, char *out, size_t outlen);
/* "true"/"1"/"yes" */
bool sl__admin_truthy(const char *s);

/* Formatting for answers. */
void sl__admin_iso8601(int64_t unix_s, char out[32]);           /* "2026-11-21T10:00:00Z" */
void sl__admin_duration_format(int64_t seconds, char out[32]);  /* "30d", "12h", "15m", "45s" */
/* USD from micro-USD as a JSON number with six decimals (exact). */
cJSON *sl__admin_usd(int64_t micro);
/* 1 when ts (unix seconds) > 0: adds the ISO8601 string, else null. */
void sl__admin_add_time(cJSON *obj, const char *name, int64_t ts);

/* Spend of a key: the ledger's all-time total plus what its shared-memory slot holds
 * and the flusher has not moved yet. Any thread. */
int64_t sl__admin_key_spend_micro(struct sl_worker *w, uint64_t id);

/* admin_keys.c */
void sl_admin_key_generate(struct sl_request *rq);
void sl_admin_key_info(struct sl_request *rq);
void sl_admin_key_update(struct sl_request *rq);
void sl_admin_key_delete(struct sl_request *rq);
void sl_admin_key_list(struct sl_request *rq);
void sl_admin_key_block(struct sl_request *rq, bool blocked); /* /key/block, /key/unblock */
/* The info object of a key (LiteLLM's /key/info "info"). NULL when out of memory. */
cJSON *sl__admin_key_info_object(const struct sl_key_record *r, int64_t spend_micro);

/* admin_spend.c */
void sl_admin_spend_report(struct sl_request *rq);
/* sl__admin_queue, after fetching the other hosts' spend into j->spend in cluster mode
 * (kind -1: every kind; id 0: every payer; totals: all-time totals, else day rows); then
 * j->extra_hdrs says "x-sluice-spend-scope: cluster", or "local" when Redis could not
 * answer (this host's ledger only). Outside cluster mode: sl__admin_queue. */
void sl__admin_queue_spend(struct sl_request *rq, struct sl__admin_job *j, int kind, uint64_t id, bool totals);
/* sl__admin_key_spend_micro plus the other hosts' total in j->spend. */
int64_t sl__admin_job_key_spend(struct sl__admin_job *j, uint64_t id);

#endif
