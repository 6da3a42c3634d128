/* Virtual keys: records under the SHA-256 of the secret, a versioned TLV encoding, a
 * loop-thread lookup in a reused read txn, and admin writes in their own txns. See
 * keys.h. The one idea here: a lookup copies the record out (one allocation) while
 * the read txn is live and resets the txn at once, so no snapshot stays pinned. */
#include "store/keys.h"

#include <errno.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "store/keys_internal.h"

#define REC_VERSION 1

enum {
  TAG_ID = 1,
  TAG_RPM,
  TAG_TPM,
  TAG_MAX_BUDGET,
  TAG_BUDGET_DURATION,
  TAG_EXPIRES_AT,
  TAG_CREATED_AT,
  TAG_UPDATED_AT,
  TAG_FLAGS,
  TAG_DISPLAY,
  TAG_ALIAS,
  TAG_MODEL,
  TAG_METADATA,
  TAG_ALIASES,
  TAG_TEAM_ID,
  TAG_USER_ID,
  TAG_TAGS,
  TAG_MAX_PARALLEL,
  TAG_SOFT_BUDGET,
  TAG_PERMITTED_REGIONS, /* comma-joined region names (validated by the admin API) */
  TAG_PREFERRED_REGIONS,
};
#define FLAG_BLOCKED 1u

struct sl_keys {
  struct sl_lmdb *e;
  MDB_txn *rtxn;      /* the loop thread's lookups */
  bool pending_marks; /* cluster mode: admin writes mark the key "to push" (sl_keys_set_pending_marks) */
};

static int mark_pending(struct sl_keys *k, MDB_txn *t, const uint8_t hash[32]);

/* ---- hashing, refs ---- */

void sl_keys_hash(const char *secret, size_t n, uint8_t hash[32]) { sl__keys_sha256(secret, n, hash); }

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void sl_keys_ref(const char *s, size_t n, uint8_t hash[32]) {
  if (n == 64) {
    bool hex = true;
    for (size_t i = 0; i < 64 && hex; i++) hex = hexval(s[i]) >= 0;
    if (hex) {
      for (size_t i = 0; i < 32; i++) hash[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
      return;
    }
  }
  sl_keys_hash(s, n, hash);
}

void sl_keys_hash_hex(const uint8_t hash[32], char out[65]) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < 32; i++) {
    out[2 * i] = d[hash[i] >> 4];
    out[2 * i + 1] = d[hash[i] & 15];
  }
  out[64] = 0;
}

/* ---- pure helpers ---- */

int sl_key_check(const struct sl_key_record *r, int64_t now_unix) {
  if (r->blocked) return -EKEYREVOKED;
  if (r->expires_at > 0 && now_unix >= r->expires_at) return -EKEYEXPIRED;
  return 0;
}

bool sl_key_allows_model(const struct sl_key_record *r, const char *model, size_t n) {
  if (r->nmodels == 0) return true;
  for (size_t i = 0; i < r->nmodels; i++) {
    const char *m = r->models[i];
    size_t len = strlen(m);
    if (!strcmp(m, "*") || !strcmp(m, "all-proxy-models")) return true;
    if (len == n && memcmp(m, model, n) == 0) return true;
    if (len > 1 && m[len - 1] == '*' && n >= len - 1 && memcmp(m, model, len - 1) == 0) return true;
  }
  return false;
}

int64_t sl_key_period_start(const struct sl_key_record *r, int64_t now_unix) {
  int64_t d = r->budget_duration_s;
  if (d <= 0) return 0;
  int64_t c = r->created_at;
  if (now_unix <= c) return c;
  return c + (now_unix - c) / d * d;
}

int64_t sl_key_max_budget_micro(const struct sl_key_record *r) {
  if (!(r->max_budget > 0)) return 0;
  double m = r->max_budget * 1e6;
  return m >= 9.2e18 ? INT64_MAX : (int64_t)(m + 0.5);
}

void sl_key_record_free(struct sl_key_record *r) {
  if (!r) return;
  free(r->mem_);
  memset(r, 0, sizeof *r);
}

/* ---- encoding ---- */

struct enc {
  uint8_t *p;
  size_t n, cap;
};

static void enc_raw(struct enc *b, uint8_t tag, const void *v, size_t len) {
  if (b->p) {
    b->p[b->n] = tag;
    for (int i = 0; i < 4; i++) b->p[b->n + 1 + i] = (uint8_t)(len >> (8 * i));
    if (len) memcpy(b->p + b->n + 5, v, len);
  }
  b->n += 5 + len;
}

static void enc_u64(struct enc *b, uint8_t tag, uint64_t v) {
  uint8_t le[8];
  for (int i = 0; i < 8; i++) le[i] = (uint8_t)(v >> (8 * i));
  enc_raw(b, tag, le, 8);
}

static void enc_str(struct enc *b, uint8_t tag, const char *s) {
  if (s && s[0]) enc_raw(b, tag, s, strlen(s));
}

static void encode_into(struct enc *b, const struct sl_key_record *r) {
  if (b->p) b->p[0] = REC_VERSION;
  b->n = 1;
  uint64_t bits;
  memcpy(&bits, &r->max_budget, 8);
  enc_u64(b, TAG_ID, r->id);
  enc_u64(b, TAG_RPM, (uint64_t)r->rpm_limit);
  enc_u64(b, TAG_TPM, (uint64_t)r->tpm_limit);
  enc_u64(b, TAG_MAX_BUDGET, bits);
  enc_u64(b, TAG_BUDGET_DURATION, (uint64_t)r->budget_duration_s);
  enc_u64(b, TAG_EXPIRES_AT, (uint64_t)r->expires_at);
  enc_u64(b, TAG_CREATED_AT, (uint64_t)r->created_at);
  enc_u64(b, TAG_UPDATED_AT, (uint64_t)r->updated_at);
  enc_u64(b, TAG_FLAGS, r->blocked ? FLAG_BLOCKED : 0);
  enc_str(b, TAG_DISPLAY, r->display);
  enc_str(b, TAG_ALIAS, r->key_alias);
  for (size_t i = 0; i < r->nmodels; i++) enc_raw(b, TAG_MODEL, r->models[i], strlen(r->models[i]));
  enc_str(b, TAG_METADATA, r->metadata);
  enc_str(b, TAG_ALIASES, r->aliases);
  enc_str(b, TAG_TEAM_ID, r->team_id);
  enc_str(b, TAG_USER_ID, r->user_id);
  enc_str(b, TAG_TAGS, r->tags);
  if (r->max_parallel_requests) enc_u64(b, TAG_MAX_PARALLEL, (uint64_t)r->max_parallel_requests);
  if (r->soft_budget > 0) {
    memcpy(&bits, &r->soft_budget, 8);
    enc_u64(b, TAG_SOFT_BUDGET, bits);
  }
  enc_str(b, TAG_PERMITTED_REGIONS, r->permitted_regions);
  enc_str(b, TAG_PREFERRED_REGIONS, r->preferred_regions);
}

/* The record as bytes (malloc'd); NULL when out of memory. */
static uint8_t *encode(const struct sl_key_record *r, size_t *len) {
  struct enc b = {0};
  encode_into(&b, r);
  b.p = malloc(b.n);
  if (!b.p) return NULL;
  encode_into(&b, r);
  *len = b.n;
  return b.p;
}

static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Walks the TLV fields; calls fn for each; -EBADMSG when the framing is broken. */
static int walk(const uint8_t *p, size_t n, void (*fn)(void *, uint8_t, const uint8_t *, size_t), void *ctx) {
  if (n < 1 || p[0] != REC_VERSION) return -EBADMSG;
  size_t i = 1;
  while (i < n) {
    if (n - i < 5) return -EBADMSG;
    size_t len = (size_t)p[i + 1] | (size_t)p[i + 2] << 8 | (size_t)p[i + 3] << 16 | (size_t)p[i + 4] << 24;
    if (len > n - i - 5) return -EBADMSG;
    fn(ctx, p[i], p + i + 5, len);
    i += 5 + len;
  }
  return 0;
}

struct dec {
  struct sl_key_record *r;
  size_t nmodels, strbytes; /* pass 1 */
  char **models;            /* pass 2 */
  char *s;
  size_t mi;
};

static bool is_str_tag(uint8_t tag) {
  return tag == TAG_ALIAS || tag == TAG_METADATA || tag == TAG_MODEL || tag == TAG_ALIASES || tag == TAG_TEAM_ID ||
         tag == TAG_USER_ID || tag == TAG_TAGS || tag == TAG_PERMITTED_REGIONS || tag == TAG_PREFERRED_REGIONS;
}

static void dec_size(void *ctx, uint8_t tag, const uint8_t *v, size_t len) {
  struct dec *d = ctx;
  if (tag == TAG_MODEL) d->nmodels++;
  if (is_str_tag(tag)) d->strbytes += len + 1;
  (void)v;
}

static char *dec_copy(struct dec *d, const uint8_t *v, size_t len) {
  char *s = d->s;
  memcpy(s, v, len);
  s[len] = 0;
  d->s += len + 1;
  return s;
}

static void dec_fill(void *ctx, uint8_t tag, const uint8_t *v, size_t len) {
  struct dec *d = ctx;
  struct sl_key_record *r = d->r;
  uint64_t x = len == 8 ? get_le64(v) : 0;
  switch (tag) {
  case TAG_ID: r->id = x; break;
  case TAG_RPM: r->rpm_limit = (int64_t)x; break;
  case TAG_TPM: r->tpm_limit = (int64_t)x; break;
  case TAG_MAX_BUDGET: memcpy(&r->max_budget, &x, 8); break;
  case TAG_BUDGET_DURATION: r->budget_duration_s = (int64_t)x; break;
  case TAG_EXPIRES_AT: r->expires_at = (int64_t)x; break;
  case TAG_CREATED_AT: r->created_at = (int64_t)x; break;
  case TAG_UPDATED_AT: r->updated_at = (int64_t)x; break;
  case TAG_FLAGS: r->blocked = (x & FLAG_BLOCKED) != 0; break;
  case TAG_DISPLAY: {
    size_t m = len < SL_KEY_DISPLAY_MAX - 1 ? len : SL_KEY_DISPLAY_MAX - 1;
    memcpy(r->display, v, m);
    r->display[m] = 0;
    break;
  }
  case TAG_ALIAS: r->key_alias = dec_copy(d, v, len); break;
  case TAG_METADATA: r->metadata = dec_copy(d, v, len); break;
  case TAG_MODEL: d->models[d->mi++] = dec_copy(d, v, len); break;
  case TAG_ALIASES: r->aliases = dec_copy(d, v, len); break;
  case TAG_TEAM_ID: r->team_id = dec_copy(d, v, len); break;
  case TAG_USER_ID: r->user_id = dec_copy(d, v, len); break;
  case TAG_TAGS: r->tags = dec_copy(d, v, len); break;
  case TAG_MAX_PARALLEL: r->max_parallel_requests = (int64_t)x; break;
  case TAG_SOFT_BUDGET: memcpy(&r->soft_budget, &x, 8); break;
  case TAG_PERMITTED_REGIONS: r->permitted_regions = dec_copy(d, v, len); break;
  case TAG_PREFERRED_REGIONS: r->preferred_regions = dec_copy(d, v, len); break;
  default: break; /* a later version's field */
  }
}

static int decode(const uint8_t hash[32], const void *val, size_t n, struct sl_key_record *r) {
  memset(r, 0, sizeof *r);
  struct dec d = {.r = r};
  int rc = walk(val, n, dec_size, &d);
  if (rc) return rc;
  size_t ptrs = d.nmodels * sizeof(char *);
  char *mem = malloc(ptrs + d.strbytes + 1);
  if (!mem) return -ENOMEM;
  d.models = (char **)(void *)mem;
  d.s = mem + ptrs;
  char *empty = mem + ptrs + d.strbytes;
  *empty = 0;
  walk(val, n, dec_fill, &d);
  memcpy(r->hash, hash, 32);
  if (!r->id) r->id = sl_spend_id_hash(SL_SPEND_KEY, hash); /* derived; stored for tools */
  r->models = (const char *const *)d.models;
  r->nmodels = d.nmodels;
  if (!r->key_alias) r->key_alias = empty;
  if (!r->metadata) r->metadata = empty;
  if (!r->aliases) r->aliases = empty;
  if (!r->team_id) r->team_id = empty;
  if (!r->user_id) r->user_id = empty;
  if (!r->tags) r->tags = empty;
  if (!r->permitted_regions) r->permitted_regions = empty;
  if (!r->preferred_regions) r->preferred_regions = empty;
  r->mem_ = mem;
  return 0;
}

/* ---- lifecycle ---- */

int sl_keys_open(struct sl_lmdb *e, struct sl_keys **out) {
  *out = NULL;
  struct sl_keys *k = calloc(1, sizeof *k);
  if (!k) return -ENOMEM;
  k->e = e;
  MDB_txn *t;
  int rc = sl__keys_begin(e, MDB_RDONLY, &t);
  if (rc) {
    free(k);
    return sl_lmdb_err(rc);
  }
  k->rtxn = t;
  sl__keys_reset(e, t);
  *out = k;
  return 0;
}

void sl_keys_close(struct sl_keys *k) {
  if (!k) return;
  mdb_txn_abort(k->rtxn);
  free(k);
}

/* ---- lookups ---- */

int sl_keys_lookup(struct sl_keys *k, const char *secret, size_t n, struct sl_key_record *out) {
  memset(out, 0, sizeof *out);
  if (n == 0 || n > 4096) return -ENOENT;
  uint8_t h[32];
  sl_keys_hash(secret, n, h);
  int rc = sl__keys_renew(k->e, k->rtxn);
  if (rc) return -EIO;
  MDB_val key = {32, h}, v;
  rc = mdb_get(k->rtxn, k->e->dbi_keys, &key, &v);
  int ret = rc == MDB_NOTFOUND ? -ENOENT : rc ? -EIO : decode(h, v.mv_data, v.mv_size, out);
  sl__keys_reset(k->e, k->rtxn);
  return ret;
}

int sl_keys_get(struct sl_keys *k, const uint8_t hash[32], struct sl_key_record *out) {
  memset(out, 0, sizeof *out);
  MDB_txn *t;
  int rc = sl__keys_begin(k->e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_val key = {32, (void *)hash}, v;
  rc = mdb_get(t, k->e->dbi_keys, &key, &v);
  int ret = rc == MDB_NOTFOUND ? -ENOENT : rc ? sl_lmdb_err(rc) : decode(hash, v.mv_data, v.mv_size, out);
  sl__keys_abort(k->e, t);
  return ret;
}

int sl_keys_list(struct sl_keys *k, sl_keys_list_cb cb, void *ctx) {
  MDB_txn *t;
  int rc = sl__keys_begin(k->e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_cursor *cur;
  rc = mdb_cursor_open(t, k->e->dbi_keys, &cur);
  int ret = 0;
  if (!rc) {
    MDB_val key, v;
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &key, &v, op)) == 0; op = MDB_NEXT) {
      if (key.mv_size != 32) continue;
      struct sl_key_record r;
      if (decode(key.mv_data, v.mv_data, v.mv_size, &r)) continue; /* damaged: skipped */
      ret = cb(ctx, &r);
      sl_key_record_free(&r);
      if (ret) break;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  sl__keys_abort(k->e, t);
  return ret ? ret : sl_lmdb_err(rc);
}

/* ---- writes ---- */

static int64_t now_or_clock(int64_t now) { return now ? now : (int64_t)time(NULL); }

static bool str_ok(const char *s, size_t max) { return !s || strnlen(s, max + 1) <= max; }

static int params_check(const struct sl_key_params *p, unsigned set) {
  if ((set & SL_KEY_SET_ALIAS) && !str_ok(p->key_alias, SL_KEY_ALIAS_MAX)) return -EINVAL;
  if ((set & SL_KEY_SET_METADATA) && !str_ok(p->metadata, SL_KEY_METADATA_MAX)) return -EINVAL;
  if (set & SL_KEY_SET_MODELS) {
    if (p->nmodels > SL_KEY_MODELS_MAX || (p->nmodels && !p->models)) return -EINVAL;
    for (size_t i = 0; i < p->nmodels; i++)
      if (!p->models[i] || !p->models[i][0] || !str_ok(p->models[i], SL_KEY_MODEL_NAME_MAX)) return -EINVAL;
  }
  if ((set & SL_KEY_SET_RPM) && p->rpm_limit < 0) return -EINVAL;
  if ((set & SL_KEY_SET_TPM) && p->tpm_limit < 0) return -EINVAL;
  if ((set & SL_KEY_SET_MAX_BUDGET) && !(p->max_budget >= 0 && isfinite(p->max_budget))) return -EINVAL;
  if ((set & SL_KEY_SET_BUDGET_DURATION) && p->budget_duration_s < 0) return -EINVAL;
  if ((set & SL_KEY_SET_EXPIRES_AT) && p->expires_at < 0) return -EINVAL;
  if ((set & SL_KEY_SET_ALIASES) && !str_ok(p->aliases, SL_KEY_METADATA_MAX)) return -EINVAL;
  if ((set & SL_KEY_SET_TAGS) && !str_ok(p->tags, SL_KEY_METADATA_MAX)) return -EINVAL;
  if ((set & SL_KEY_SET_TEAM_ID) && !str_ok(p->team_id, SL_KEY_LABEL_MAX)) return -EINVAL;
  if ((set & SL_KEY_SET_USER_ID) && !str_ok(p->user_id, SL_KEY_LABEL_MAX)) return -EINVAL;
  if ((set & SL_KEY_SET_MAX_PARALLEL) && p->max_parallel_requests < 0) return -EINVAL;
  if ((set & SL_KEY_SET_SOFT_BUDGET) && !(p->soft_budget >= 0 && isfinite(p->soft_budget))) return -EINVAL;
  if ((set & SL_KEY_SET_PERMITTED_REGIONS) && !str_ok(p->permitted_regions, SL_KEY_REGIONS_MAX)) return -EINVAL;
  if ((set & SL_KEY_SET_PREFERRED_REGIONS) && !str_ok(p->preferred_regions, SL_KEY_REGIONS_MAX)) return -EINVAL;
  return 0;
}

/* Overlays the flagged fields of p on r (pointers, not copies). */
static void apply_params(struct sl_key_record *r, const struct sl_key_params *p, unsigned set) {
  if (set & SL_KEY_SET_ALIAS) r->key_alias = p->key_alias ? p->key_alias : "";
  if (set & SL_KEY_SET_MODELS) {
    r->models = p->models;
    r->nmodels = p->nmodels;
  }
  if (set & SL_KEY_SET_RPM) r->rpm_limit = p->rpm_limit;
  if (set & SL_KEY_SET_TPM) r->tpm_limit = p->tpm_limit;
  if (set & SL_KEY_SET_MAX_BUDGET) r->max_budget = p->max_budget;
  if (set & SL_KEY_SET_BUDGET_DURATION) r->budget_duration_s = p->budget_duration_s;
  if (set & SL_KEY_SET_EXPIRES_AT) r->expires_at = p->expires_at;
  if (set & SL_KEY_SET_METADATA) r->metadata = p->metadata ? p->metadata : "";
  if (set & SL_KEY_SET_BLOCKED) r->blocked = p->blocked;
  if (set & SL_KEY_SET_ALIASES) r->aliases = p->aliases ? p->aliases : "";
  if (set & SL_KEY_SET_TEAM_ID) r->team_id = p->team_id ? p->team_id : "";
  if (set & SL_KEY_SET_USER_ID) r->user_id = p->user_id ? p->user_id : "";
  if (set & SL_KEY_SET_TAGS) r->tags = p->tags ? p->tags : "";
  if (set & SL_KEY_SET_MAX_PARALLEL) r->max_parallel_requests = p->max_parallel_requests;
  if (set & SL_KEY_SET_SOFT_BUDGET) r->soft_budget = p->soft_budget;
  if (set & SL_KEY_SET_PERMITTED_REGIONS) r->permitted_regions = p->permitted_regions ? p->permitted_regions : "";
  if (set & SL_KEY_SET_PREFERRED_REGIONS) r->preferred_regions = p->preferred_regions ? p->preferred_regions : "";
}

static const char *label_of(const struct sl_key_record *r) {
  return r->key_alias && r->key_alias[0] ? r->key_alias : r->display;
}

static bool secret_ok(const char *s, size_t n) {
  if (n < 4 || n >= SL_KEY_SECRET_MAX || memcmp(s, "sk-", 3) != 0) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] <= 0x20 || s[i] >= 0x7f) return false;
  return true;
}

static int random_secret(char out[SL_KEY_SECRET_MAX]) {
  static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  memcpy(out, "sk-", 3);
  size_t n = 3;
  uint8_t buf[64];
  while (n < 3 + 43) {
    ssize_t got = getrandom(buf, sizeof buf, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    for (ssize_t i = 0; i < got && n < 3 + 43; i++)
      if (buf[i] < 248) out[n++] = b62[buf[i] % 62]; /* 248 = 4 * 62: no bias */
  }
  out[n] = 0;
  return 0;
}

static void make_display(const char *s, size_t n, char out[SL_KEY_DISPLAY_MAX]) {
  size_t head = n >= 9 ? 5 : (n > 3 ? 3 : n), tail = n >= 9 ? 4 : 0;
  memcpy(out, s, head);
  memcpy(out + head, "...", 3);
  memcpy(out + head + 3, s + n - tail, tail);
  out[head + 3 + tail] = 0;
}

/* Encodes r and stores it under r->hash, with its label; flags: MDB_NOOVERWRITE for a
 * new key. */
static int store_record(struct sl_keys *k, MDB_txn *t, const struct sl_key_record *r, unsigned flags) {
  size_t len;
  uint8_t *buf = encode(r, &len);
  if (!buf) return ENOMEM;
  MDB_val key = {32, (void *)r->hash}, v = {len, buf};
  int rc = mdb_put(t, k->e->dbi_keys, &key, &v, flags);
  free(buf);
  if (rc == MDB_KEYEXIST) return EEXIST;
  if (rc) return rc;
  const char *label = label_of(r);
  return sl__keys_label_put(k->e, t, SL_SPEND_KEY, r->id, label, strlen(label));
}

struct gen_ctx {
  struct sl_keys *k;
  const struct sl_key_record *r;
};

static int gen_fn(MDB_txn *t, void *ctx) {
  struct gen_ctx *g = ctx;
  int rc = store_record(g->k, t, g->r, MDB_NOOVERWRITE);
  return rc ? rc : mark_pending(g->k, t, g->r->hash);
}

static int copy_out(const struct sl_key_record *r, struct sl_key_record *out) {
  /* A deep copy through the encoding: one allocation like a lookup's. */
  size_t len;
  uint8_t *buf = encode(r, &len);
  if (!buf) return -ENOMEM;
  int rc = decode(r->hash, buf, len, out);
  free(buf);
  return rc;
}

int sl_keys_generate(struct sl_keys *k, const struct sl_key_params *p, char secret_out[SL_KEY_SECRET_MAX],
                     struct sl_key_record *out) {
  if (out) memset(out, 0, sizeof *out);
  secret_out[0] = 0;
  int rc = params_check(p, ~0u);
  if (rc) return rc;
  char secret[SL_KEY_SECRET_MAX];
  if (p->secret) {
    size_t n = strnlen(p->secret, SL_KEY_SECRET_MAX);
    if (!secret_ok(p->secret, n)) return -EINVAL;
    memcpy(secret, p->secret, n + 1);
  } else if ((rc = random_secret(secret))) {
    return rc;
  }
  size_t n = strlen(secret);
  struct sl_key_record r = {0};
  sl_keys_hash(secret, n, r.hash);
  r.id = sl_spend_id_hash(SL_SPEND_KEY, r.hash);
  make_display(secret, n, r.display);
  apply_params(&r, p, ~0u);
  r.created_at = r.updated_at = now_or_clock(p->now_unix);
  if (!r.key_alias) r.key_alias = "";
  if (!r.metadata) r.metadata = "";
  struct gen_ctx g = {k, &r};
  rc = sl__keys_write(k->e, gen_fn, &g);
  if (rc) return rc;
  memcpy(secret_out, secret, n + 1);
  if (out && (rc = copy_out(&r, out))) return rc; /* the key exists; only the copy failed */
  return 0;
}

struct upd_ctx {
  struct sl_keys *k;
  const uint8_t *hash;
  const struct sl_key_params *p;
  struct sl_key_record *out; /* may be NULL */
};

static int upd_fn(MDB_txn *t, void *ctx) {
  struct upd_ctx *u = ctx;
  MDB_val key = {32, (void *)u->hash}, v;
  int rc = mdb_get(t, u->k->e->dbi_keys, &key, &v);
  if (rc == MDB_NOTFOUND) return ENOENT;
  if (rc) return rc;
  struct sl_key_record r;
  rc = decode(u->hash, v.mv_data, v.mv_size, &r);
  if (rc) return -rc; /* EBADMSG, ENOMEM */
  void *mem = r.mem_;
  apply_params(&r, u->p, u->p->set);
  r.updated_at = now_or_clock(u->p->now_unix);
  rc = store_record(u->k, t, &r, 0);
  if (!rc) rc = mark_pending(u->k, t, u->hash);
  if (!rc && u->out) {
    sl_key_record_free(u->out);
    rc = -copy_out(&r, u->out);
  }
  free(mem);
  return rc;
}

int sl_keys_update(struct sl_keys *k, const uint8_t hash[32], const struct sl_key_params *changes,
                   struct sl_key_record *out) {
  if (out) memset(out, 0, sizeof *out);
  int rc = params_check(changes, changes->set);
  if (rc) return rc;
  struct upd_ctx u = {k, hash, changes, out};
  rc = sl__keys_write(k->e, upd_fn, &u);
  if (rc && out) sl_key_record_free(out);
  return rc;
}

struct del_ctx {
  struct sl_keys *k;
  const uint8_t *hash;
};

static int del_fn(MDB_txn *t, void *ctx) {
  struct del_ctx *d = ctx;
  MDB_val key = {32, (void *)d->hash};
  int rc = mdb_del(t, d->k->e->dbi_keys, &key, NULL);
  if (!rc) rc = mark_pending(d->k, t, d->hash);
  return rc == MDB_NOTFOUND ? ENOENT : rc;
}

int sl_keys_delete(struct sl_keys *k, const uint8_t hash[32]) {
  struct del_ctx d = {k, hash};
  return sl__keys_write(k->e, del_fn, &d);
}

/* ---- cluster mode: raw records, "to push" marks, remote state applied ----
 * A mark is a row 'K' + hash (33 bytes) of the spend database (keys_internal.h) whose
 * value is a random 64-bit sequence: written in the same txn as the admin write it
 * stands for, so a key created or deleted here can never be undone by a resync before
 * it reached Redis; cleared only when the sequence is still the one that was pushed. */

#define MARK_KEY_LEN 33

static void mark_key(uint8_t mk[MARK_KEY_LEN], const uint8_t hash[32]) {
  mk[0] = 'K';
  memcpy(mk + 1, hash, 32);
}

static uint64_t mark_seq(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 40;
  }
  return s ? s : 1;
}

static int mark_pending(struct sl_keys *k, MDB_txn *t, const uint8_t hash[32]) {
  if (!k->pending_marks) return 0;
  uint8_t mk[MARK_KEY_LEN];
  mark_key(mk, hash);
  uint64_t seq = mark_seq();
  MDB_val key = {sizeof mk, mk}, v = {sizeof seq, &seq};
  return mdb_put(t, k->e->dbi_spend, &key, &v, 0);
}

static uint64_t mark_get(struct sl_keys *k, MDB_txn *t, const uint8_t hash[32]) {
  uint8_t mk[MARK_KEY_LEN];
  mark_key(mk, hash);
  MDB_val key = {sizeof mk, mk}, v;
  uint64_t seq = 0;
  if (mdb_get(t, k->e->dbi_spend, &key, &v) == 0 && v.mv_size == sizeof seq) memcpy(&seq, v.mv_data, sizeof seq);
  return seq;
}

void sl_keys_set_pending_marks(struct sl_keys *k, bool on) { k->pending_marks = on; }

int sl_keys_raw_check(const void *val, size_t n) {
  struct sl_key_record r;
  static const uint8_t zero[32];
  int rc = decode(zero, val, n, &r);
  if (!rc) sl_key_record_free(&r);
  return rc;
}

int sl_keys_raw_get(struct sl_keys *k, const uint8_t hash[32], void **val, size_t *n, uint64_t *pending) {
  *val = NULL;
  *n = 0;
  *pending = 0;
  MDB_txn *t;
  int rc = sl__keys_begin(k->e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_val key = {32, (void *)hash}, v;
  rc = mdb_get(t, k->e->dbi_keys, &key, &v);
  int ret = rc == MDB_NOTFOUND ? -ENOENT : sl_lmdb_err(rc);
  if (!rc) {
    if ((*val = malloc(v.mv_size ? v.mv_size : 1))) {
      memcpy(*val, v.mv_data, v.mv_size);
      *n = v.mv_size;
    } else {
      ret = -ENOMEM;
    }
  }
  *pending = mark_get(k, t, hash);
  sl__keys_abort(k->e, t);
  return ret;
}

int sl_keys_pending_list(struct sl_keys *k, sl_keys_pending_cb cb, void *ctx) {
  MDB_txn *t;
  int rc = sl__keys_begin(k->e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_cursor *cur;
  int ret = 0;
  rc = mdb_cursor_open(t, k->e->dbi_spend, &cur);
  if (!rc) {
    uint8_t first = 'K';
    MDB_val key = {1, &first}, v;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
      const uint8_t *p = key.mv_data;
      if (p[0] != 'K') break;
      if (key.mv_size != MARK_KEY_LEN || v.mv_size != 8) continue;
      uint64_t seq;
      memcpy(&seq, v.mv_data, 8);
      if ((ret = cb(ctx, p + 1, seq))) break;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  sl__keys_abort(k->e, t);
  return ret ? ret : sl_lmdb_err(rc);
}

int sl_keys_raw_list(struct sl_keys *k, sl_keys_raw_cb cb, void *ctx) {
  MDB_txn *t;
  int rc = sl__keys_begin(k->e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_cursor *cur;
  int ret = 0;
  rc = mdb_cursor_open(t, k->e->dbi_keys, &cur);
  if (!rc) {
    MDB_val key, v;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
      if (key.mv_size != 32) continue;
      if ((ret = cb(ctx, key.mv_data, v.mv_data, v.mv_size))) break;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  sl__keys_abort(k->e, t);
  return ret ? ret : sl_lmdb_err(rc);
}

static int cmp_remote(const void *a, const void *b) {
  return memcmp(((const struct sl_keys_remote *)a)->hash, ((const struct sl_keys_remote *)b)->hash, 32);
}

struct apply_ctx {
  struct sl_keys *k;
  struct sl_keys_remote *r;
  size_t n;
  bool full;
  struct sl_keys_apply_stats st;
  uint8_t (*del)[32]; /* full: local keys to delete */
  size_t ndel, capdel;
};

/* One remote entry into txn t (unless marked). */
static int apply_one(struct apply_ctx *a, MDB_txn *t, const struct sl_keys_remote *e) {
  struct sl_keys *k = a->k;
  uint8_t mk[MARK_KEY_LEN];
  mark_key(mk, e->hash);
  uint64_t seq = mark_get(k, t, e->hash);
  if (seq && e->clear_seq == seq) {
    MDB_val key = {sizeof mk, mk};
    int rc = mdb_del(t, k->e->dbi_spend, &key, NULL);
    if (rc && rc != MDB_NOTFOUND) return rc;
    a->st.cleared++;
    seq = 0;
  }
  if (seq) { /* written here and not pushed yet: the push will carry it */
    ((struct sl_keys_remote *)e)->skipped = true;
    a->st.skipped++;
    return 0;
  }
  MDB_val key = {32, (void *)e->hash}, v;
  int rc = mdb_get(t, k->e->dbi_keys, &key, &v);
  if (rc && rc != MDB_NOTFOUND) return rc;
  if (!e->present) {
    if (rc == MDB_NOTFOUND) return 0;
    if ((rc = mdb_del(t, k->e->dbi_keys, &key, NULL))) return rc;
    a->st.deleted++;
    return 0;
  }
  if (rc == 0 && v.mv_size == e->n && memcmp(v.mv_data, e->val, e->n) == 0) return 0;
  struct sl_key_record r;
  if (decode(e->hash, e->val, e->n, &r)) { /* damaged or from a newer format: never stored */
    a->st.bad++;
    return 0;
  }
  MDB_val nv = {e->n, (void *)e->val};
  rc = mdb_put(t, k->e->dbi_keys, &key, &nv, 0);
  if (!rc) {
    const char *label = label_of(&r);
    rc = sl__keys_label_put(k->e, t, SL_SPEND_KEY, r.id, label, strlen(label));
  }
  sl_key_record_free(&r);
  if (!rc) a->st.written++;
  return rc;
}

static int apply_fn(MDB_txn *t, void *ctx) {
  struct apply_ctx *a = ctx;
  memset(&a->st, 0, sizeof a->st);
  a->ndel = 0;
  for (size_t i = 0; i < a->n; i++) {
    int rc = apply_one(a, t, &a->r[i]);
    if (rc) return rc;
  }
  if (!a->full) return 0;
  /* local keys Redis does not hold: deleted unless marked (then the push carries them) */
  MDB_cursor *cur;
  int rc = mdb_cursor_open(t, a->k->e->dbi_keys, &cur);
  if (rc) return rc;
  MDB_val key, v;
  for (rc = mdb_cursor_get(cur, &key, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
    if (key.mv_size != 32) continue;
    struct sl_keys_remote probe;
    memcpy(probe.hash, key.mv_data, 32);
    if (a->n && bsearch(&probe, a->r, a->n, sizeof *a->r, cmp_remote)) continue;
    if (mark_get(a->k, t, probe.hash)) {
      a->st.skipped++;
      continue;
    }
    if (a->ndel == a->capdel) {
      size_t cap = a->capdel ? a->capdel * 2 : 16;
      void *p = realloc(a->del, cap * sizeof *a->del);
      if (!p) {
        mdb_cursor_close(cur);
        return ENOMEM;
      }
      a->del = p;
      a->capdel = cap;
    }
    memcpy(a->del[a->ndel++], probe.hash, 32);
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return rc;
  for (size_t i = 0; i < a->ndel; i++) {
    MDB_val dk = {32, a->del[i]};
    rc = mdb_del(t, a->k->e->dbi_keys, &dk, NULL);
    if (rc && rc != MDB_NOTFOUND) return rc;
    a->st.deleted++;
  }
  return 0;
}

int sl_keys_apply(struct sl_keys *k, struct sl_keys_remote *r, size_t n, bool full, struct sl_keys_apply_stats *st) {
  if (full && n > 1) qsort(r, n, sizeof *r, cmp_remote);
  struct apply_ctx a = {.k = k, .r = r, .n = n, .full = full};
  int rc = sl__keys_write(k->e, apply_fn, &a);
  free(a.del);
  if (st) *st = a.st;
  return rc;
}

static const uint8_t epoch_key[2] = {'E', 'k'};

int sl_keys_epoch_get(struct sl_keys *k, char out[64]) {
  out[0] = 0;
  MDB_txn *t;
  int rc = sl__keys_begin(k->e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_val key = {sizeof epoch_key, (void *)epoch_key}, v;
  rc = mdb_get(t, k->e->dbi_spend, &key, &v);
  if (!rc && v.mv_size < 64) {
    memcpy(out, v.mv_data, v.mv_size);
    out[v.mv_size] = 0;
  }
  sl__keys_abort(k->e, t);
  return rc == MDB_NOTFOUND ? 0 : sl_lmdb_err(rc);
}

struct epoch_ctx {
  struct sl_keys *k;
  const char *epoch;
};

static int epoch_fn(MDB_txn *t, void *ctx) {
  struct epoch_ctx *c = ctx;
  MDB_val key = {sizeof epoch_key, (void *)epoch_key}, v = {strlen(c->epoch), (void *)c->epoch};
  return mdb_put(t, c->k->e->dbi_spend, &key, &v, 0);
}

int sl_keys_epoch_set(struct sl_keys *k, const char *epoch) {
  if (strlen(epoch) >= 64) return -EINVAL;
  struct epoch_ctx c = {k, epoch};
  return sl__keys_write(k->e, epoch_fn, &c);
}
