/* Google access tokens for Vertex AI deployments, shared by every worker. The one idea: one
 * shared-memory slot per distinct service account (keyed by client_email + private_key_id),
 * mapped by the master before it forks and kept across reloads. Any worker reads the token
 * without a lock (a seqlock: readers retry, never wait); every worker runs a timer, and the
 * one that wins the slot's refresh lease (a CAS on a claim word that carries its own expiry,
 * so a crashed worker's claim passes on) signs a JWT and exchanges it at token_uri when the
 * token is missing or within max(60 s, 10 % of its lifetime) of expiry; the others keep using
 * the current token. A failed exchange backs off (1 s doubling to 30 s) and leaves its error
 * in the slot for the messages clients see. Requests that arrive before the first token wait
 * (sl_gcp_token_wait): their worker polls the slot every 10 ms until a token or a failure.
 * The slot logic (lease, seqlock, refresh decision, back-off) is pure functions below that
 * take the time as an argument (tested in test/unit/test_gcp_token.c). To add another token
 * source (workload identity, metadata server), give it a slot kind and its own exchange. */
#ifndef SL_CORE_GCP_TOKEN_H
#define SL_CORE_GCP_TOKEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_config;
struct sl_worker;
struct sl_buf;

int sl_gcp_tokens_init(const struct sl_config *cfg, char *err, size_t errlen); /* master, before fork */
void sl_gcp_tokens_worker_start(struct sl_worker *w);                          /* timer + first exchange */
void sl_gcp_tokens_worker_stop(struct sl_worker *w);
/* The current token of credential i ("ya29..."), copied into out; 0, or -EAGAIN (none yet:
 * wait) with the last exchange error in err when there was one. -ENOENT: no such credential;
 * -ENOSPC: cap too small. */
int sl_gcp_token_get(unsigned cred, char *out, size_t cap, size_t *len, char *err, size_t errlen);
struct sl_gcp_waiter { /* embedded in the attempt */
  void *next, *prev;
  unsigned cred;
  void (*cb)(struct sl_gcp_waiter *wt, int rc);
  int rc; /* (internal: the answer while callbacks run) */
};
/* Calls cb (never from inside this call) once a token exists (rc 0) or the exchange failed
 * for good for now (rc < 0: -EIO the exchange failed, sl_gcp_token_get's err says why;
 * -ETIMEDOUT nothing within 30 s; -ENOENT no such credential). Cancel before freeing the
 * waiter (cancelling one whose cb ran, or a zeroed one never queued, is a no-op). A cb may
 * cancel other waiters; cb runs with rc -ECANCELED when the worker stops first. */
void sl_gcp_token_wait(struct sl_worker *w, struct sl_gcp_waiter *wt);
void sl_gcp_token_cancel(struct sl_gcp_waiter *wt);

/* Prometheus lines: sluice_gcp_token_exchanges_total{result} and
 * sluice_gcp_token_expires_in_seconds{credential} (core/metrics.c); nothing without
 * credentials. now_ms: monotonic. */
void sl_gcp_tokens_metrics(struct sl_buf *b, uint64_t now_ms);

/* One exchange's time limit (default 15 s; 0 restores it). For tests. */
void sl_gcp_tokens_set_timeout(uint64_t ms);

/* ---- the slot (shared memory) and its pure logic ---- */

#define SL_GCP_SLOTS          32
#define SL_GCP_TOKEN_MAX      4096
#define SL_GCP_ERR_MAX        512
#define SL_GCP_LEASE_MS       20000 /* one exchange's claim; the exchange itself times out at 15 s */
#define SL_GCP_BACKOFF_MIN_MS 1000
#define SL_GCP_BACKOFF_MAX_MS 30000

/* What the seqlock protects. Times are monotonic ms (CLOCK_MONOTONIC is one clock for every
 * process of the host). */
struct sl_gcp_tok {
  uint64_t expires_ms;  /* 0: no token */
  uint64_t lifetime_ms; /* expires_in of the answer */
  uint32_t len;
  char token[SL_GCP_TOKEN_MAX];
  int status;               /* last failed exchange's HTTP status; 0: a network error */
  char err[SL_GCP_ERR_MAX]; /* last failed exchange's message; "" none since the last token */
};

struct sl_gcp_slot {
  atomic_uint in_use;     /* written by the master before fork */
  char client_email[256]; /* the key: client_email + private_key_id */
  char private_key_id[128];
  atomic_uint seq;              /* seqlock: odd while a writer writes */
  _Atomic uint64_t claim;       /* refresh lease: (until_ms << 22) | owner id; 0 free */
  _Atomic uint64_t next_try_ms; /* back-off: no exchange before */
  atomic_uint failures;         /* consecutive failed exchanges */
  atomic_uint fail_gen;         /* bumped by each failed exchange (for tests and tools) */
  _Atomic uint64_t ok_total, err_total;
  struct sl_gcp_tok tok;
};

/* Seqlock: the writer is exclusive (CAS even -> odd); a reader copies and retries when the
 * sequence moved. sl_gcp_slot_read: 0, or -EAGAIN when a writer kept it busy for too long. */
void sl_gcp_slot_write(struct sl_gcp_slot *s, const struct sl_gcp_tok *t);
int sl_gcp_slot_read(struct sl_gcp_slot *s, struct sl_gcp_tok *t);
/* Does the token need a refresh at now (missing, or within max(60 s, 10 % of its lifetime)
 * of expiry, at most half its lifetime: a 10 s token is refreshed after 5 s, not at once)? */
bool sl_gcp_needs_refresh(uint64_t expires_ms, uint64_t lifetime_ms, uint64_t now_ms);
/* Is the token usable at now (present and not expired)? */
bool sl_gcp_token_valid(uint64_t expires_ms, uint64_t now_ms);
/* Back-off after `failures` consecutive failures (>= 1): 1 s doubling to 30 s. */
uint64_t sl_gcp_backoff_ms(unsigned failures);
/* Takes the refresh lease for owner (nonzero, < 2^22) until now + lease_ms when it is free
 * or its holder's claim expired; true when taken. Release gives it up (only one's own). */
bool sl_gcp_lease_take(struct sl_gcp_slot *s, uint32_t owner, uint64_t now_ms, uint64_t lease_ms, uint64_t *claim);
void sl_gcp_lease_release(struct sl_gcp_slot *s, uint64_t claim);
/* Should this worker start an exchange at now: the token needs a refresh, no back-off, and
 * (checked separately) the lease is taken. */
bool sl_gcp_should_try(const struct sl_gcp_slot *s, uint64_t expires_ms, uint64_t lifetime_ms, uint64_t now_ms);
/* Records an exchange's outcome (ok: token + expires_in; failure: status + message). */
void sl_gcp_slot_ok(struct sl_gcp_slot *s, const char *token, size_t n, uint64_t expires_in_s, uint64_t now_ms);
void sl_gcp_slot_fail(struct sl_gcp_slot *s, int status, const char *msg, uint64_t now_ms);

/* The token endpoint's answer: 2xx {access_token, expires_in, token_type "Bearer"} -> 0 and
 * the token; anything else -> -EIO and msg "token endpoint answered <status>: <error>:
 * <error_description>" (or what was wrong with a 2xx body). */
int sl_gcp_parse_token_answer(int status, const char *body, size_t n, char *tok, size_t cap, size_t *len,
                              uint64_t *expires_in_s, char *msg, size_t msglen);
/* The form body: grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=<jwt>. */
void sl_gcp_token_form(struct sl_buf *out, const char *jwt, size_t n);

#endif
