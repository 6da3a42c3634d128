/* The spend ledger's rows and the reads over them: ids, UTC days, adding a delta to a
 * payer's day/total/period rows, period loads, totals, reports, labels. The flush from
 * shared memory is in spend_flush.c; the design is in spend.h. The one idea here: all
 * rows of one payer are adjacent (kind, id, then day, big-endian), so a payer's range
 * of days is one cursor seek and a short walk. */
#include "store/spend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store/keys_internal.h"

#define ID_MASK ((UINT64_C(1) << 62) - 1)
#define LABEL_MAX 1024

uint64_t sl_spend_id_hash(enum sl_spend_kind kind, const uint8_t hash[32]) {
  uint64_t low = sl__keys_get_be64(hash) & ID_MASK;
  if (low == 0) low = 1;
  return (uint64_t)(kind & 3) << 62 | low;
}

uint64_t sl_spend_id_name(enum sl_spend_kind kind, const char *name, size_t n) {
  uint8_t h[32];
  sl__keys_sha256(name, n, h);
  return sl_spend_id_hash(kind, h);
}

/* ---- days (Howard Hinnant's civil-date algorithms) ---- */

uint32_t sl_spend_day(int64_t unix_s) {
  if (unix_s < 0) return 0;
  return (uint32_t)(unix_s / 86400);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

int sl_spend_day_parse(const char *s, size_t n, uint32_t *day) {
  if (n != 10 || s[4] != '-' || s[7] != '-') return -EINVAL;
  unsigned v[3] = {0, 0, 0};
  static const int at[3][2] = {{0, 4}, {5, 2}, {8, 2}};
  for (int f = 0; f < 3; f++)
    for (int i = 0; i < at[f][1]; i++) {
      char c = s[at[f][0] + i];
      if (c < '0' || c > '9') return -EINVAL;
      v[f] = v[f] * 10 + (unsigned)(c - '0');
    }
  if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1) return -EINVAL;
  static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
  if (v[2] > mdays[v[1] - 1] + (v[1] == 2 && leap)) return -EINVAL;
  *day = (uint32_t)days_from_civil(v[0], v[1], v[2]);
  return 0;
}

void sl_spend_day_format(uint32_t day, char out[11]) {
  int64_t z = (int64_t)day + 719468;
  int64_t era = z / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char tmp[40];
  snprintf(tmp, sizeof tmp, "%04u-%02u-%02u", (unsigned)(y % 10000), m % 100, d % 100);
  memcpy(out, tmp, 11);
}

/* ---- rows ---- */

/* Ledger sums saturate instead of wrapping (spend is bounded upstream, core/tenancy.c;
 * this is the last line). */
static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

static void row_read(const MDB_val *v, int64_t out[SL_SPEND_NFIELDS]) {
  struct sl__keys_row r;
  memset(out, 0, sizeof(int64_t) * SL_SPEND_NFIELDS);
  if (v->mv_size != sizeof r) return;
  memcpy(&r, v->mv_data, sizeof r);
  if (r.version != SLK_VERSION) return;
  memcpy(out, r.v, sizeof r.v);
}

static int row_add(MDB_txn *t, MDB_dbi dbi, const void *key, size_t klen, const int64_t d[SL_SPEND_NFIELDS]) {
  MDB_val k = {klen, (void *)key}, v;
  struct sl__keys_row r = {.version = SLK_VERSION};
  int rc = mdb_get(t, dbi, &k, &v);
  if (rc && rc != MDB_NOTFOUND) return rc;
  if (!rc) row_read(&v, r.v);
  for (int i = 0; i < SL_SPEND_NFIELDS; i++) r.v[i] = sat_add(r.v[i], d[i]);
  v = (MDB_val){sizeof r, &r};
  return mdb_put(t, dbi, &k, &v, 0);
}

int sl__keys_spend_add(struct sl_lmdb *e, MDB_txn *t, unsigned kind, uint64_t id, uint32_t day, uint64_t period_start,
                  const int64_t d[SL_SPEND_NFIELDS]) {
  uint8_t rk[SLK_ROW_KEY_LEN], ik[SLK_ID_KEY_LEN];
  sl__keys_row_key(rk, kind, id, day);
  int rc = row_add(t, e->dbi_spend, rk, sizeof rk, d);
  sl__keys_id_key(ik, 'T', kind, id);
  if (!rc) rc = row_add(t, e->dbi_spend, ik, sizeof ik, d);
  if (rc) return rc;
  /* the budget period row: restarted when the slot's period moved forward */
  sl__keys_id_key(ik, 'P', kind, id);
  MDB_val k = {sizeof ik, ik}, v;
  struct sl__keys_period p = {.version = SLK_VERSION};
  rc = mdb_get(t, e->dbi_spend, &k, &v);
  if (rc && rc != MDB_NOTFOUND) return rc;
  if (!rc && v.mv_size == sizeof p) {
    memcpy(&p, v.mv_data, sizeof p);
    if (p.version != SLK_VERSION) memset(&p, 0, sizeof p);
  }
  p.version = SLK_VERSION;
  if (period_start > p.period_start) {
    p.period_start = period_start;
    memset(p.v, 0, sizeof p.v);
  }
  for (int i = 0; i < SL_SPEND_NFIELDS; i++) p.v[i] = sat_add(p.v[i], d[i]);
  v = (MDB_val){sizeof p, &p};
  return mdb_put(t, e->dbi_spend, &k, &v, 0);
}

int sl__keys_label_put(struct sl_lmdb *e, MDB_txn *t, unsigned kind, uint64_t id, const char *label, size_t n) {
  if (n > LABEL_MAX) n = LABEL_MAX;
  uint8_t ik[SLK_ID_KEY_LEN];
  sl__keys_id_key(ik, 'L', kind, id);
  MDB_val k = {sizeof ik, ik}, v;
  int rc = mdb_get(t, e->dbi_spend, &k, &v);
  if (rc == 0 && v.mv_size == n && memcmp(v.mv_data, label, n) == 0) return 0;
  if (rc && rc != MDB_NOTFOUND) return rc;
  v = (MDB_val){n, (void *)label};
  return mdb_put(t, e->dbi_spend, &k, &v, 0);
}

struct label_ctx {
  struct sl_lmdb *e;
  unsigned kind;
  uint64_t id;
  const char *label;
};

static int label_fn(MDB_txn *t, void *ctx) {
  struct label_ctx *l = ctx;
  return sl__keys_label_put(l->e, t, l->kind, l->id, l->label, strlen(l->label));
}

int sl_spend_label_set(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, const char *label) {
  struct label_ctx l = {e, kind, id, label ? label : ""};
  return sl__keys_write(e, label_fn, &l);
}

/* ---- reads ---- */

/* Sums the day rows of (kind, id) in [start, end] with cursor cur. */
static int sum_days(MDB_cursor *cur, unsigned kind, uint64_t id, uint32_t start, uint32_t end,
                    int64_t out[SL_SPEND_NFIELDS]) {
  uint8_t rk[SLK_ROW_KEY_LEN];
  sl__keys_row_key(rk, kind, id, start);
  MDB_val k = {sizeof rk, rk}, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const uint8_t *p = k.mv_data;
    if (k.mv_size != SLK_ROW_KEY_LEN || memcmp(p, rk, 10) != 0) break;
    uint32_t day = (uint32_t)p[10] << 24 | (uint32_t)p[11] << 16 | (uint32_t)p[12] << 8 | p[13];
    if (day > end) break;
    int64_t r[SL_SPEND_NFIELDS];
    row_read(&v, r);
    for (int i = 0; i < SL_SPEND_NFIELDS; i++) out[i] = sat_add(out[i], r[i]);
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static void to_row(const int64_t v[SL_SPEND_NFIELDS], struct sl_spend_row *r) {
  r->micro = v[SL_SPEND_MICRO];
  r->requests = v[SL_SPEND_REQUESTS];
  r->tokens_in = v[SL_SPEND_TOKENS_IN];
  r->tokens_out = v[SL_SPEND_TOKENS_OUT];
}

int sl_spend_sum(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, uint32_t start_day, uint32_t end_day,
                 struct sl_spend_row *out) {
  memset(out, 0, sizeof *out);
  MDB_txn *t;
  int rc = sl__keys_begin(e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_cursor *cur;
  int64_t s[SL_SPEND_NFIELDS] = {0};
  rc = mdb_cursor_open(t, e->dbi_spend, &cur);
  if (!rc) {
    rc = sum_days(cur, kind, id, start_day, end_day, s);
    mdb_cursor_close(cur);
  }
  sl__keys_abort(e, t);
  to_row(s, out);
  return sl_lmdb_err(rc);
}

int sl_spend_total(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, struct sl_spend_row *out) {
  memset(out, 0, sizeof *out);
  MDB_txn *t;
  int rc = sl__keys_begin(e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  uint8_t ik[SLK_ID_KEY_LEN];
  sl__keys_id_key(ik, 'T', kind, id);
  MDB_val k = {sizeof ik, ik}, v;
  int64_t s[SL_SPEND_NFIELDS] = {0};
  rc = mdb_get(t, e->dbi_spend, &k, &v);
  if (!rc) row_read(&v, s);
  sl__keys_abort(e, t);
  to_row(s, out);
  return rc == MDB_NOTFOUND ? 0 : sl_lmdb_err(rc);
}

int sl_spend_period_load(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, int64_t period_start_unix,
                         int64_t *micro) {
  *micro = 0;
  uint64_t want = period_start_unix > 0 ? (uint64_t)period_start_unix : 0;
  MDB_txn *t;
  int rc = sl__keys_begin(e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  uint8_t ik[SLK_ID_KEY_LEN];
  sl__keys_id_key(ik, 'P', kind, id);
  MDB_val k = {sizeof ik, ik}, v;
  struct sl__keys_period p;
  rc = mdb_get(t, e->dbi_spend, &k, &v);
  if (rc == MDB_NOTFOUND) {
    rc = 0;
  } else if (!rc && v.mv_size == sizeof p && (memcpy(&p, v.mv_data, sizeof p), p.version == SLK_VERSION)) {
    if (p.period_start == want) {
      *micro = p.v[SL_SPEND_MICRO];
    } else if (p.period_start > want) { /* a past period: whole days, an upper bound */
      MDB_cursor *cur;
      int64_t s[SL_SPEND_NFIELDS] = {0};
      rc = mdb_cursor_open(t, e->dbi_spend, &cur);
      if (!rc) {
        rc = sum_days(cur, kind, id, sl_spend_day((int64_t)want), UINT32_MAX, s);
        mdb_cursor_close(cur);
      }
      *micro = s[SL_SPEND_MICRO];
    } /* else: the stored period is older, nothing spent in this one yet */
  }
  sl__keys_abort(e, t);
  return sl_lmdb_err(rc);
}

struct rep_row {
  struct sl_spend_report_row row;
  size_t label_off; /* into labels, which may still move while rows are gathered */
};

struct rep {
  struct rep_row *rows;
  size_t n, cap;
  char *labels; /* NUL-separated */
  size_t lbytes, lcap;
};

static int rep_add(struct rep *r, const struct sl_spend_report_row *row, size_t label_off) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    void *p = realloc(r->rows, cap * sizeof *r->rows);
    if (!p) return ENOMEM;
    r->rows = p;
    r->cap = cap;
  }
  r->rows[r->n].row = *row;
  r->rows[r->n++].label_off = label_off;
  return 0;
}

/* Appends the label of (kind, id) and returns its offset in r->labels. */
static int rep_label(struct rep *r, MDB_txn *t, MDB_dbi dbi, unsigned kind, uint64_t id, size_t *off) {
  uint8_t ik[SLK_ID_KEY_LEN];
  sl__keys_id_key(ik, 'L', kind, id);
  MDB_val k = {sizeof ik, ik}, v = {0, ""};
  int rc = mdb_get(t, dbi, &k, &v);
  if (rc && rc != MDB_NOTFOUND) return rc;
  if (rc) v.mv_size = 0;
  if (r->lbytes + v.mv_size + 1 > r->lcap) {
    size_t cap = (r->lcap ? r->lcap * 2 : 1024) + v.mv_size + 1;
    char *p = realloc(r->labels, cap);
    if (!p) return ENOMEM;
    r->labels = p;
    r->lcap = cap;
  }
  *off = r->lbytes;
  memcpy(r->labels + r->lbytes, v.mv_data, v.mv_size);
  r->labels[r->lbytes + v.mv_size] = 0;
  r->lbytes += v.mv_size + 1;
  return 0;
}

int sl_spend_report(struct sl_lmdb *e, enum sl_spend_kind kind, uint32_t start_day, uint32_t end_day,
                    sl_spend_report_cb cb, void *ctx) {
  struct rep r = {0};
  MDB_txn *t;
  int rc = sl__keys_begin(e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_cursor *cur;
  rc = mdb_cursor_open(t, e->dbi_spend, &cur);
  if (!rc) {
    /* id by id: seek to (kind, id, start_day), walk to end_day, then to the next id */
    uint8_t rk[SLK_ROW_KEY_LEN];
    sl__keys_row_key(rk, kind, 0, start_day);
    MDB_val k = {sizeof rk, rk}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
      const uint8_t *p = k.mv_data;
      if (k.mv_size != SLK_ROW_KEY_LEN || p[0] != 'R' || p[1] != (uint8_t)kind) break;
      uint64_t id = sl__keys_get_be64(p + 2);
      uint32_t day = (uint32_t)p[10] << 24 | (uint32_t)p[11] << 16 | (uint32_t)p[12] << 8 | p[13];
      if (day < start_day || day > end_day) {
        /* before the range: seek into it; past it: on to the next id */
        if (day > end_day && id == UINT64_MAX) break;
        sl__keys_row_key(rk, kind, day < start_day ? id : id + 1, start_day);
        k = (MDB_val){sizeof rk, rk};
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        continue;
      }
      struct sl_spend_report_row row = {.kind = kind, .id = id, .day = day};
      int64_t s[SL_SPEND_NFIELDS];
      row_read(&v, s);
      to_row(s, &row.v);
      size_t off = 0;
      if (r.n && r.rows[r.n - 1].row.id == id)
        off = r.rows[r.n - 1].label_off;
      else if ((rc = rep_label(&r, t, e->dbi_spend, kind, id, &off)))
        break;
      if ((rc = rep_add(&r, &row, off))) break;
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  sl__keys_abort(e, t);
  int ret = sl_lmdb_err(rc);
  for (size_t i = 0; !ret && i < r.n; i++) {
    r.rows[i].row.label = r.labels + r.rows[i].label_off;
    ret = cb(ctx, &r.rows[i].row);
  }
  free(r.rows);
  free(r.labels);
  return ret;
}

/* ---- cluster mode (core/cluster_spend.c): this ledger's rows, published per host ---- */

int sl_spend_totals_list(struct sl_lmdb *e, sl_spend_total_cb cb, void *ctx) {
  MDB_txn *t;
  int rc = sl__keys_begin(e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_cursor *cur;
  int ret = 0;
  rc = mdb_cursor_open(t, e->dbi_spend, &cur);
  if (!rc) {
    uint8_t first = 'T';
    MDB_val k = {1, &first}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const uint8_t *p = k.mv_data;
      if (p[0] != 'T') break;
      if (k.mv_size != SLK_ID_KEY_LEN) continue;
      int64_t s[SL_SPEND_NFIELDS];
      struct sl_spend_row row;
      row_read(&v, s);
      to_row(s, &row);
      if ((ret = cb(ctx, (enum sl_spend_kind)p[1], sl__keys_get_be64(p + 2), &row))) break;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  sl__keys_abort(e, t);
  return ret ? ret : sl_lmdb_err(rc);
}

int sl_spend_days_list(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, uint32_t from_day, sl_spend_day_cb cb,
                       void *ctx) {
  MDB_txn *t;
  int rc = sl__keys_begin(e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_cursor *cur;
  int ret = 0;
  rc = mdb_cursor_open(t, e->dbi_spend, &cur);
  if (!rc) {
    uint8_t rk[SLK_ROW_KEY_LEN];
    sl__keys_row_key(rk, kind, id, from_day);
    MDB_val k = {sizeof rk, rk}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const uint8_t *p = k.mv_data;
      if (k.mv_size != SLK_ROW_KEY_LEN || memcmp(p, rk, 10) != 0) break;
      uint32_t day = (uint32_t)p[10] << 24 | (uint32_t)p[11] << 16 | (uint32_t)p[12] << 8 | p[13];
      int64_t s[SL_SPEND_NFIELDS];
      struct sl_spend_row row;
      row_read(&v, s);
      to_row(s, &row);
      if ((ret = cb(ctx, day, &row))) break;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  sl__keys_abort(e, t);
  return ret ? ret : sl_lmdb_err(rc);
}

static const uint8_t ledger_key[2] = {'E', 's'};

struct ledger_ctx {
  struct sl_lmdb *e;
  char out[33];
};

static int ledger_fn(MDB_txn *t, void *ctx) {
  struct ledger_ctx *l = ctx;
  MDB_val k = {sizeof ledger_key, (void *)ledger_key}, v;
  int rc = mdb_get(t, l->e->dbi_spend, &k, &v);
  if (rc == 0 && v.mv_size == 32) { /* another process made it first */
    memcpy(l->out, v.mv_data, 32);
    l->out[32] = 0;
    return 0;
  }
  if (rc && rc != MDB_NOTFOUND) return rc;
  uint8_t rnd[16];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return EIO;
  for (int i = 0; i < 16; i++) snprintf(l->out + 2 * i, 3, "%02x", rnd[i]);
  v = (MDB_val){32, l->out};
  return mdb_put(t, l->e->dbi_spend, &k, &v, 0);
}

int sl_spend_ledger_id(struct sl_lmdb *e, char out[33]) {
  out[0] = 0;
  MDB_txn *t;
  int rc = sl__keys_begin(e, MDB_RDONLY, &t);
  if (rc) return sl_lmdb_err(rc);
  MDB_val k = {sizeof ledger_key, (void *)ledger_key}, v;
  rc = mdb_get(t, e->dbi_spend, &k, &v);
  if (rc == 0 && v.mv_size == 32) {
    memcpy(out, v.mv_data, 32);
    out[32] = 0;
  }
  sl__keys_abort(e, t);
  if (out[0]) return 0;
  struct ledger_ctx l = {.e = e};
  rc = sl__keys_write(e, ledger_fn, &l);
  if (!rc) memcpy(out, l.out, 33);
  return rc;
}
