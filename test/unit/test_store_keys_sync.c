/* store/keys.c and store/spend.c in cluster mode, with real LMDB files: to-push marks
 * written in the same txn as admin writes and cleared only by the push that carried them;
 * remote state applied (incremental and full) leaving marked keys alone, skipping
 * damaged bytes, writing spend labels, and idempotent; the epoch; this ledger's id; the
 * total and day rows a host publishes; and core/cluster_spend's field format. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpdir.h"
#include "core/cluster_spend.h"
#include "store/keys.h"
#include "store/lmdb_env.h"
#include "store/shm.h"
#include "store/spend.h"

#define MiB (1024u * 1024u)
#define T0  1700000000

static struct sl_keys *open_keys(const char *dir, struct sl_lmdb **env) {
  char msg[512];
  if (sl_lmdb_open(dir, 8 * MiB, SL_LMDB_NOSYNC, env, msg, sizeof msg)) return NULL;
  struct sl_keys *k;
  if (sl_keys_open(*env, &k)) {
    sl_lmdb_close(*env);
    return NULL;
  }
  return k;
}

struct marks {
  uint8_t h[8][32];
  uint64_t seq[8];
  size_t n;
};

static int marks_cb(void *ctx, const uint8_t hash[32], uint64_t seq) {
  struct marks *m = ctx;
  if (m->n < 8) {
    memcpy(m->h[m->n], hash, 32);
    m->seq[m->n++] = seq;
  }
  return 0;
}

static size_t nmarks(struct sl_keys *k) {
  struct marks m = {0};
  CHECK(sl_keys_pending_list(k, marks_cb, &m) == 0);
  return m.n;
}

static void marks_follow_admin_writes(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  char secret[SL_KEY_SECRET_MAX];
  struct sl_key_record r;
  struct sl_key_params p = {.key_alias = "one", .now_unix = T0};
  /* off (one host): no marks */
  CHECK(sl_keys_generate(k, &p, secret, &r) == 0);
  CHECK(nmarks(k) == 0);
  uint8_t h0[32];
  memcpy(h0, r.hash, 32);
  sl_key_record_free(&r);
  sl_keys_set_pending_marks(k, true);
  p.key_alias = "two";
  CHECK(sl_keys_generate(k, &p, secret, &r) == 0);
  struct marks m = {0};
  CHECK(sl_keys_pending_list(k, marks_cb, &m) == 0 && m.n == 1 && memcmp(m.h[0], r.hash, 32) == 0 && m.seq[0]);
  /* the raw bytes and the mark */
  void *val;
  size_t n;
  uint64_t seq;
  CHECK(sl_keys_raw_get(k, r.hash, &val, &n, &seq) == 0 && seq == m.seq[0] && n > 0);
  CHECK(sl_keys_raw_check(val, n) == 0);
  /* an update re-marks with a new sequence: an older push cannot clear it */
  struct sl_key_params up = {.set = SL_KEY_SET_RPM, .rpm_limit = 9, .now_unix = T0 + 1};
  CHECK(sl_keys_update(k, r.hash, &up, NULL) == 0);
  struct marks m2 = {0};
  CHECK(sl_keys_pending_list(k, marks_cb, &m2) == 0 && m2.n == 1 && m2.seq[0] != m.seq[0]);
  struct sl_keys_remote stale = {.present = true, .val = val, .n = n, .clear_seq = m.seq[0]};
  memcpy(stale.hash, r.hash, 32);
  struct sl_keys_apply_stats st;
  CHECK(sl_keys_apply(k, &stale, 1, false, &st) == 0 && st.cleared == 0 && st.skipped == 1 && stale.skipped);
  struct sl_key_record now;
  CHECK(sl_keys_get(k, r.hash, &now) == 0 && now.rpm_limit == 9); /* the local write stands */
  sl_key_record_free(&now);
  /* the push of the current sequence settles: mark cleared, Redis's bytes applied */
  struct sl_keys_remote cur = stale;
  cur.clear_seq = m2.seq[0];
  cur.skipped = false;
  CHECK(sl_keys_apply(k, &cur, 1, false, &st) == 0 && st.cleared == 1 && st.written == 1 && !cur.skipped);
  CHECK(nmarks(k) == 0);
  CHECK(sl_keys_get(k, r.hash, &now) == 0 && now.rpm_limit == 0); /* Redis's (older) value */
  sl_key_record_free(&now);
  free(val);
  /* a delete marks too, and raw_get then says absent with the mark */
  CHECK(sl_keys_delete(k, r.hash) == 0);
  CHECK(sl_keys_raw_get(k, r.hash, &val, &n, &seq) == -ENOENT && seq != 0 && val == NULL);
  CHECK(nmarks(k) == 1);
  sl_key_record_free(&r);
  (void)h0;
  sl_keys_close(k);
  sl_lmdb_close(env);
  rm_rf(dir);
  free(dir);
}

struct raws {
  uint8_t h[8][32];
  void *v[8];
  size_t n[8], count;
};

static int raws_cb(void *ctx, const uint8_t hash[32], const void *val, size_t n) {
  struct raws *r = ctx;
  if (r->count < 8) {
    memcpy(r->h[r->count], hash, 32);
    r->v[r->count] = malloc(n);
    memcpy(r->v[r->count], val, n);
    r->n[r->count++] = n;
  }
  return 0;
}

static void apply_full_and_incremental(void) {
  char *da = tmpdir(), *db = tmpdir();
  struct sl_lmdb *ea, *eb;
  struct sl_keys *a = open_keys(da, &ea), *b = open_keys(db, &eb);
  CHECK(a && b);
  if (!a || !b) return;
  /* host A's keys, as Redis would hold them */
  char secret[3][SL_KEY_SECRET_MAX];
  const char *models[] = {"gpt-4o"};
  for (int i = 0; i < 3; i++) {
    struct sl_key_params p = {.key_alias = i == 0 ? "alpha" : NULL, .models = models, .nmodels = 1, .now_unix = T0};
    CHECK(sl_keys_generate(a, &p, secret[i], NULL) == 0);
  }
  struct raws rw = {0};
  CHECK(sl_keys_raw_list(a, raws_cb, &rw) == 0 && rw.count == 3);
  /* host B has a key of its own, unmarked (Redis deleted it) and one marked (not pushed yet) */
  char sb[2][SL_KEY_SECRET_MAX];
  struct sl_key_params q = {.now_unix = T0};
  CHECK(sl_keys_generate(b, &q, sb[0], NULL) == 0);
  sl_keys_set_pending_marks(b, true);
  CHECK(sl_keys_generate(b, &q, sb[1], NULL) == 0);
  struct sl_keys_remote r[4];
  memset(r, 0, sizeof r);
  for (size_t i = 0; i < 3; i++) {
    memcpy(r[i].hash, rw.h[i], 32);
    r[i].val = rw.v[i];
    r[i].n = rw.n[i];
    r[i].present = true;
  }
  /* damaged bytes are never stored */
  static const uint8_t junk[] = {9, 9, 9};
  memset(r[3].hash, 0xab, 32);
  r[3].val = junk;
  r[3].n = sizeof junk;
  r[3].present = true;
  struct sl_keys_apply_stats st;
  CHECK(sl_keys_apply(b, r, 4, true, &st) == 0);
  CHECK(st.written == 3 && st.deleted == 1 && st.bad == 1 && st.skipped == 1);
  struct sl_key_record rec;
  for (int i = 0; i < 3; i++) {
    CHECK(sl_keys_lookup(b, secret[i], strlen(secret[i]), &rec) == 0 && rec.nmodels == 1);
    sl_key_record_free(&rec);
  }
  CHECK(sl_keys_lookup(b, sb[0], strlen(sb[0]), &rec) == -ENOENT); /* deleted in Redis */
  CHECK(sl_keys_lookup(b, sb[1], strlen(sb[1]), &rec) == 0);       /* marked: kept */
  sl_key_record_free(&rec);
  uint8_t jh[32];
  memset(jh, 0xab, 32);
  CHECK(sl_keys_get(b, jh, &rec) == -ENOENT);
  /* the spend label came along */
  uint8_t h0[32];
  sl_keys_hash(secret[0], strlen(secret[0]), h0);
  struct sl_key_record a0;
  CHECK(sl_keys_get(b, h0, &a0) == 0 && strcmp(a0.key_alias, "alpha") == 0);
  sl_key_record_free(&a0);
  /* the same state again: nothing written (idempotent) */
  CHECK(sl_keys_apply(b, r, 4, true, &st) == 0 && st.written == 0 && st.deleted == 0 && st.bad == 1);
  /* incremental: a delete of one, and a delete of an absent key is no change */
  struct sl_keys_remote d = {.present = false};
  memcpy(d.hash, h0, 32);
  CHECK(sl_keys_apply(b, &d, 1, false, &st) == 0 && st.deleted == 1);
  CHECK(sl_keys_apply(b, &d, 1, false, &st) == 0 && st.deleted == 0);
  CHECK(sl_keys_lookup(b, secret[0], strlen(secret[0]), &rec) == -ENOENT);
  /* a merge (full = false over every entry) deletes nothing and brings the key back */
  CHECK(sl_keys_apply(b, r, 4, false, &st) == 0 && st.written == 1 && st.deleted == 0);
  CHECK(sl_keys_lookup(b, secret[0], strlen(secret[0]), &rec) == 0);
  sl_key_record_free(&rec);
  CHECK(sl_keys_lookup(b, sb[1], strlen(sb[1]), &rec) == 0);
  sl_key_record_free(&rec);
  /* epochs */
  char ep[64];
  CHECK(sl_keys_epoch_get(b, ep) == 0 && ep[0] == 0);
  CHECK(sl_keys_epoch_set(b, "0123abcd") == 0);
  CHECK(sl_keys_epoch_get(b, ep) == 0 && strcmp(ep, "0123abcd") == 0);
  char big[80];
  memset(big, 'e', sizeof big - 1);
  big[sizeof big - 1] = 0;
  CHECK(sl_keys_epoch_set(b, big) == -EINVAL);
  for (size_t i = 0; i < rw.count; i++) free(rw.v[i]);
  sl_keys_close(a);
  sl_keys_close(b);
  sl_lmdb_close(ea);
  sl_lmdb_close(eb);
  rm_rf(da);
  rm_rf(db);
  free(da);
  free(db);
}

struct tot {
  uint64_t id[8];
  int64_t micro[8];
  size_t n;
};

static int tot_cb(void *ctx, enum sl_spend_kind kind, uint64_t id, const struct sl_spend_row *r) {
  struct tot *t = ctx;
  (void)kind;
  if (t->n < 8) {
    t->id[t->n] = id;
    t->micro[t->n++] = r->micro;
  }
  return 0;
}

struct days {
  uint32_t day[8];
  int64_t micro[8];
  size_t n;
};

static int days_cb(void *ctx, uint32_t day, const struct sl_spend_row *r) {
  struct days *d = ctx;
  if (d->n < 8) {
    d->day[d->n] = day;
    d->micro[d->n++] = r->micro;
  }
  return 0;
}

static void ledger_rows_and_id(void) {
  char *dir = tmpdir();
  char msg[512];
  struct sl_lmdb *e;
  CHECK(sl_lmdb_open(dir, 8 * MiB, SL_LMDB_NOSYNC, &e, msg, sizeof msg) == 0);
  struct sl_shm *shm;
  CHECK(sl_shm_create(0, 0, &shm) == 0);
  uint64_t k1 = sl_spend_id_name(SL_SPEND_KEY, "k1", 2);
  atomic_fetch_add(&sl_shm_key_slot(shm, k1)->spend_total_micro, 1500);
  CHECK(sl_spend_flush(e, shm, T0, NULL) == 0);
  atomic_fetch_add(&sl_shm_key_slot(shm, k1)->spend_total_micro, 70);
  CHECK(sl_spend_flush(e, shm, T0 + 86400, NULL) == 0);
  struct tot t = {0};
  CHECK(sl_spend_totals_list(e, tot_cb, &t) == 0);
  bool found = false;
  for (size_t i = 0; i < t.n; i++)
    if (t.id[i] == k1) found = t.micro[i] == 1570;
  CHECK(found);
  struct days d = {0};
  uint32_t day0 = sl_spend_day(T0);
  CHECK(sl_spend_days_list(e, SL_SPEND_KEY, k1, 0, days_cb, &d) == 0);
  CHECK(d.n == 2 && d.day[0] == day0 && d.micro[0] == 1500 && d.day[1] == day0 + 1 && d.micro[1] == 70);
  struct days d2 = {0};
  CHECK(sl_spend_days_list(e, SL_SPEND_KEY, k1, day0 + 1, days_cb, &d2) == 0 && d2.n == 1 && d2.micro[0] == 70);
  /* the ledger id: made once, stable */
  char id1[33], id2[33];
  CHECK(sl_spend_ledger_id(e, id1) == 0 && strlen(id1) == 32);
  CHECK(sl_spend_ledger_id(e, id2) == 0 && strcmp(id1, id2) == 0);
  sl_shm_destroy(shm);
  sl_lmdb_close(e);
  CHECK(sl_lmdb_open(dir, 8 * MiB, SL_LMDB_NOSYNC, &e, msg, sizeof msg) == 0);
  CHECK(sl_spend_ledger_id(e, id2) == 0 && strcmp(id1, id2) == 0); /* survives a reopen */
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

static void spend_fields(void) {
  struct sl_cluster_spend_row r = {.kind = 1, .id = 0x4000000000abcdefull, .day = 19675}, back;
  char f[40];
  size_t n = sl_cluster_spend_field_format(&r, f);
  CHECK_STR(f, "1|4000000000abcdef|19675");
  CHECK(n == strlen(f));
  CHECK(sl_cluster_spend_field_parse(f, n, &back) == 0 && back.kind == 1 && back.id == r.id && back.day == 19675);
  r.day = SL_CLUSTER_SPEND_TOTAL;
  n = sl_cluster_spend_field_format(&r, f);
  CHECK_STR(f, "1|4000000000abcdef|T");
  CHECK(sl_cluster_spend_field_parse(f, n, &back) == 0 && back.day == SL_CLUSTER_SPEND_TOTAL);
  static const char *bad[] = {"",
                              "_instance",
                              "1|4000000000abcdef|",
                              "4|4000000000abcdef|1",
                              "1|4000000000ABCDEF|1",
                              "1|4000000000abcde|1",
                              "1|4000000000abcdef|1x",
                              "1|4000000000abcdef|4294967295",
                              "1|4000000000abcdef|12345678901",
                              "1|4000000000abcdef|TT"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    CHECK(sl_cluster_spend_field_parse(bad[i], strlen(bad[i]), &back) == -EINVAL);
}

CHECK_MAIN(T(marks_follow_admin_writes), T(apply_full_and_incremental), T(ledger_rows_and_id), T(spend_fields))
