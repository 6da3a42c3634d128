/* Virtual keys (the semantics of LiteLLM's /key endpoints) in the "keys" database of the shared LMDB
 * environment. The one idea: the secret is never stored. A key's record lives under the
 * SHA-256 of its secret (LiteLLM's "token" is the hex of that hash), so authenticating
 * a request is one hash and one memory-mapped read in a long-lived read txn of the
 * worker's loop thread (renewed per lookup, reset at once), with no disk wait and no
 * lock but LMDB's. Writes are admin actions: each is one small write txn, run
 * synchronously by the caller on a thread that may block (a thread-pool job); LMDB
 * serialises them against each other across processes and readers never wait for them.
 * Keys survive restarts because they are in the file.
 *
 * Record encoding (value of the 32-byte hash): byte 0 = version (1), then TLV fields
 * {tag u8, length u32 little-endian, bytes}: scalars are 8-byte little-endian, strings
 * are raw bytes, the models list is one field per model. Unknown tags are skipped, so
 * later fields can be added without a migration.
 *
 * Time: the caller passes now_unix where time matters (0 in params = read the wall
 * clock for created_at/updated_at). Expiry and blocking are checked by sl_key_check,
 * not by the lookup, so the caller can tell 401 reasons apart. */
#ifndef SL_STORE_KEYS_H
#define SL_STORE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/lmdb_env.h"

#define SL_KEY_SECRET_MAX 64   /* secret_out size; generated secrets are "sk-" + 43 base62 chars */
#define SL_KEY_DISPLAY_MAX 16  /* "sk-ab...wxyz" */
#define SL_KEY_ALIAS_MAX 1024
#define SL_KEY_MODELS_MAX 1024
#define SL_KEY_MODEL_NAME_MAX 1024
#define SL_KEY_METADATA_MAX (256 * 1024)
#define SL_KEY_LABEL_MAX 1024 /* team_id, user_id */
#define SL_KEY_REGIONS_MAX 2048 /* permitted_regions, preferred_regions (comma-joined) */

struct sl_keys;

/* Which fields an update changes (sl_key_params.set). Generate uses every field. */
enum {
  SL_KEY_SET_ALIAS = 1 << 0,
  SL_KEY_SET_MODELS = 1 << 1,
  SL_KEY_SET_RPM = 1 << 2,
  SL_KEY_SET_TPM = 1 << 3,
  SL_KEY_SET_MAX_BUDGET = 1 << 4,
  SL_KEY_SET_BUDGET_DURATION = 1 << 5,
  SL_KEY_SET_EXPIRES_AT = 1 << 6,
  SL_KEY_SET_METADATA = 1 << 7,
  SL_KEY_SET_BLOCKED = 1 << 8,
  SL_KEY_SET_ALIASES = 1 << 9,
  SL_KEY_SET_TEAM_ID = 1 << 10,
  SL_KEY_SET_USER_ID = 1 << 11,
  SL_KEY_SET_MAX_PARALLEL = 1 << 12,
  SL_KEY_SET_TAGS = 1 << 13,
  SL_KEY_SET_SOFT_BUDGET = 1 << 14,
  SL_KEY_SET_PERMITTED_REGIONS = 1 << 15,
  SL_KEY_SET_PREFERRED_REGIONS = 1 << 16,
};

struct sl_key_params {
  unsigned set;                 /* update only: SL_KEY_SET_* of the fields to change */
  const char *secret;           /* generate only: use this secret ("sk-..." as LiteLLM's
                                   `key` field); NULL = a random one */
  const char *key_alias;        /* NULL = none */
  const char *const *models;    /* nmodels names; none = every model */
  size_t nmodels;
  int64_t rpm_limit, tpm_limit; /* 0 = no limit */
  double max_budget;            /* USD; 0 = no budget */
  int64_t budget_duration_s;    /* 0 = the budget never resets */
  int64_t expires_at;           /* unix seconds; 0 = never */
  const char *metadata;         /* a JSON text kept as is; NULL = none */
  bool blocked;
  /* LiteLLM's other key fields */
  const char *aliases;          /* JSON object text {"alias": "model group"}; NULL = none */
  const char *team_id, *user_id; /* labels; NULL = none */
  const char *tags;             /* JSON array text of strings; NULL = none */
  int64_t max_parallel_requests; /* concurrent in-flight requests; 0 = no limit */
  double soft_budget;           /* USD, shown only (LiteLLM alerts on it); 0 = none */
  /* data residency: region names joined by ',' (validated by the caller: see
     policy/region.h); NULL or "" = no list */
  const char *permitted_regions, *preferred_regions;
  int64_t now_unix;             /* created_at / updated_at; 0 = the wall clock */
};

struct sl_key_record {
  uint8_t hash[32];             /* SHA-256 of the secret: the database key */
  uint64_t id;                  /* shm slot and ledger id: sl_spend_id_hash(SL_SPEND_KEY, hash) */
  char display[SL_KEY_DISPLAY_MAX]; /* first 5 + "..." + last 4 characters of the secret */
  const char *key_alias;        /* "" when none */
  const char *const *models;
  size_t nmodels;
  const char *metadata;         /* "" when none */
  int64_t rpm_limit, tpm_limit;
  double max_budget;
  int64_t budget_duration_s, expires_at, created_at, updated_at;
  bool blocked;
  const char *aliases, *team_id, *user_id, *tags; /* "" when none */
  int64_t max_parallel_requests;
  double soft_budget;
  const char *permitted_regions, *preferred_regions; /* comma-joined; "" when none */
  void *mem_;                   /* owns the strings; sl_key_record_free */
};

/* Opens the key store on an open environment (which must outlive it): one per worker,
 * after fork, from the thread that will call sl_keys_lookup. */
int sl_keys_open(struct sl_lmdb *e, struct sl_keys **out);
void sl_keys_close(struct sl_keys *k);

/* The request path. Loop thread only (the one read txn of k). Hashes the secret and
 * reads its record: 0 (out filled; free it), -ENOENT (unknown or deleted key), -EIO
 * (environment failure; a file grown by another process is adopted first), -EBADMSG
 * (the stored record is damaged), -ENOMEM.
 * Does not judge expiry or blocking: see sl_key_check. */
int sl_keys_lookup(struct sl_keys *k, const char *secret, size_t n, struct sl_key_record *out);

/* 0 when the key may be used at now_unix; -EKEYEXPIRED past expires_at; -EKEYREVOKED
 * when blocked. Pure. */
int sl_key_check(const struct sl_key_record *r, int64_t now_unix);
/* True when the key may call `model`: no models listed, "*" or "all-proxy-models"
 * listed, the exact name, or a listed "prefix*" that matches. Pure. */
bool sl_key_allows_model(const struct sl_key_record *r, const char *model, size_t n);
/* The start of the budget period containing now_unix: created_at + k * budget_duration
 * (LiteLLM resets budget_duration after creation, then every budget_duration); 0 when
 * the key has no budget_duration (the budget spans all time). Pure. */
int64_t sl_key_period_start(const struct sl_key_record *r, int64_t now_unix);
/* max_budget in micro-USD (rounded); 0 = none. Pure. */
int64_t sl_key_max_budget_micro(const struct sl_key_record *r);

void sl_key_record_free(struct sl_key_record *r);

/* SHA-256 of a secret. Pure. */
void sl_keys_hash(const char *secret, size_t n, uint8_t hash[32]);
/* What /key/info, /key/update and /key/delete accept as `key`: a secret ("sk-...", or
 * any string that is not 64 hex digits) is hashed; 64 hex digits are taken as the hash
 * itself (LiteLLM's hashed token). Pure. */
void sl_keys_ref(const char *s, size_t n, uint8_t hash[32]);
/* hash -> 64 lowercase hex digits + NUL. */
void sl_keys_hash_hex(const uint8_t hash[32], char out[65]);

/* ---- admin (writes and reads in their own txns; any thread, may block on the disk:
 * call from a thread-pool job, not from the event loop; safe against concurrent
 * lookups on the loop thread and against writes from other threads and processes) ---- */

/* Creates a key from p (p->set ignored). secret_out receives the secret (NUL-
 * terminated), which is never stored; out (may be NULL) the record. -EEXIST when
 * p->secret is given and already a key; -EINVAL for a malformed secret or a field over
 * its bound. Also stores the key's label (alias or display) for spend reports. */
int sl_keys_generate(struct sl_keys *k, const struct sl_key_params *p, char secret_out[SL_KEY_SECRET_MAX],
                     struct sl_key_record *out);
/* Reads a record by hash (0, -ENOENT). */
int sl_keys_get(struct sl_keys *k, const uint8_t hash[32], struct sl_key_record *out);
/* Changes the fields flagged in changes->set; updated_at = changes->now_unix (or the
 * clock). out (may be NULL) receives the new record. -ENOENT when absent. */
int sl_keys_update(struct sl_keys *k, const uint8_t hash[32], const struct sl_key_params *changes,
                   struct sl_key_record *out);
/* Deletes the record (its spend stays in the ledger). 0 or -ENOENT. */
int sl_keys_delete(struct sl_keys *k, const uint8_t hash[32]);
/* Calls cb for every key in hash order inside one read txn (cb must not call into
 * the store; the record is freed after cb returns). Nonzero from cb stops the walk and
 * is returned. */
typedef int (*sl_keys_list_cb)(void *ctx, const struct sl_key_record *r);
int sl_keys_list(struct sl_keys *k, sl_keys_list_cb cb, void *ctx);

/* ---- cluster mode (core/cluster_keys.c): the records travel as their stored bytes ----
 * With pending marks on, every admin write (generate, update, delete) also marks its key
 * "to push" in the same txn; a resync never overwrites or deletes a marked key, and the
 * mark is cleared (sl_keys_remote.clear_seq) once the push that carried it succeeded. */
void sl_keys_set_pending_marks(struct sl_keys *k, bool on);
/* 0 when the bytes are a record this version decodes (-EBADMSG otherwise). Pure. */
int sl_keys_raw_check(const void *val, size_t n);
/* The stored bytes of hash (malloc'd into *val) and its mark (0: none): 0, or -ENOENT
 * (absent; *pending still filled: a delete not pushed yet). Read txn: any thread. */
int sl_keys_raw_get(struct sl_keys *k, const uint8_t hash[32], void **val, size_t *n, uint64_t *pending);
/* Every mark (hash, sequence), inside one read txn (cb must not call the store). */
typedef int (*sl_keys_pending_cb)(void *ctx, const uint8_t hash[32], uint64_t seq);
int sl_keys_pending_list(struct sl_keys *k, sl_keys_pending_cb cb, void *ctx);
/* Every record's stored bytes, inside one read txn (cb must not call the store). */
typedef int (*sl_keys_raw_cb)(void *ctx, const uint8_t hash[32], const void *val, size_t n);
int sl_keys_raw_list(struct sl_keys *k, sl_keys_raw_cb cb, void *ctx);

/* What Redis says about one key. */
struct sl_keys_remote {
  uint8_t hash[32];
  const void *val; /* the stored bytes (present) */
  size_t n;
  bool present;    /* false: deleted */
  uint64_t clear_seq; /* nonzero: the push of this mark succeeded; cleared if still equal */
  bool skipped;       /* out: left alone because it is marked */
};
struct sl_keys_apply_stats {
  unsigned written, deleted, skipped, cleared, bad;
};
/* Applies r in one write txn (not on the event loop): a marked key is left alone (after
 * its mark is cleared when clear_seq matches); a present entry is stored (with its spend
 * label) when its bytes differ; an absent one is deleted; bytes that do not decode are
 * skipped (st->bad). full: r is all of Redis's state (sorted here), and local keys it
 * does not hold are deleted unless marked. Idempotent: any number of workers or hosts
 * applying the same state leave the same file. 0 or -errno. */
int sl_keys_apply(struct sl_keys *k, struct sl_keys_remote *r, size_t n, bool full, struct sl_keys_apply_stats *st);
/* The Redis epoch this store last synced with (a NUL-terminated id, at most 63 chars;
 * "" when never): a store from another epoch is merged into Redis, not overwritten. */
int sl_keys_epoch_get(struct sl_keys *k, char out[64]);
int sl_keys_epoch_set(struct sl_keys *k, const char *epoch); /* write txn: not on the loop */

#endif
