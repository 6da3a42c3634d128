/* store/responses with real LMDB files in temp dirs and a fake clock: the record format,
 * put/get round trip, replace, owner isolation, TTL (-ETIME once, then -ENOENT, and the
 * put's sweep), delete, -E2BIG, eviction oldest first when max_bytes is passed (with
 * exact stats), a full map, damaged records (garbage and a flipped byte), two processes
 * on one environment, and persistence across reopen. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "store/lmdb_env.h"
#include "store/responses.h"
#include "store/responses_internal.h"

#define MiB (1024u * 1024u)
#define T0  1700000000

struct fx {
  char *dir;
  struct sl_lmdb *env;
  struct sl_resp_store *s;
};

static int fx_open(struct fx *f, size_t map, const struct sl_resp_store_opts *o) {
  char msg[512];
  if (!f->dir) f->dir = tmpdir();
  if (!f->dir || sl_lmdb_open(f->dir, map, SL_LMDB_NOSYNC, &f->env, msg, sizeof msg)) return -1;
  if (sl_resp_store_open(f->env, o, &f->s)) {
    sl_lmdb_close(f->env);
    return -1;
  }
  return 0;
}

static void fx_close(struct fx *f) {
  sl_resp_store_close(f->s);
  sl_lmdb_close(f->env);
  f->s = NULL;
  f->env = NULL;
}

static void fx_done(struct fx *f) {
  fx_close(f);
  rm_rf(f->dir);
  free(f->dir);
}

/* What a record counts in the stats: id + header + owner + response + items. */
static uint64_t counted(const char *id, const char *owner, const char *resp, const char *items) {
  return strlen(id) + SL_RESP_HDR_LEN + strlen(owner) + strlen(resp) + strlen(items);
}

static int put(struct fx *f, const char *id, const char *owner, int64_t now, const char *resp, const char *items) {
  return sl_resp_store_put(f->s, id, owner, now, resp, strlen(resp), items, strlen(items));
}

static int get_is(struct fx *f, const char *id, const char *owner, int64_t now, const char *resp) {
  struct sl_resp_record r;
  int rc = sl_resp_store_get(f->s, id, owner, now, &r);
  if (rc) return rc;
  int ok = r.response_len == strlen(resp) && strcmp(r.response, resp) == 0;
  sl_resp_record_free(&r);
  return ok ? 0 : -EPROTO;
}

static void stats_are(struct fx *f, uint64_t records, uint64_t bytes, int *ok) {
  uint64_t n = 99, b = 99;
  *ok = sl_resp_store_stats(f->s, &n, &b) == 0 && n == records && b == bytes;
  if (!*ok)
    fprintf(stderr, "  stats: %llu records %llu bytes, want %llu %llu\n", (unsigned long long)n, (unsigned long long)b,
            (unsigned long long)records, (unsigned long long)bytes);
}

static int raw_put(struct sl_lmdb *e, MDB_dbi dbi, const char *key, const void *val, size_t n) {
  MDB_txn *t;
  if (mdb_txn_begin(e->env, NULL, 0, &t)) return -1;
  MDB_val k = {strlen(key), (void *)key}, v = {n, (void *)val};
  int rc = mdb_put(t, dbi, &k, &v, 0);
  if (rc) {
    mdb_txn_abort(t);
    return rc;
  }
  return mdb_txn_commit(t);
}

static int raw_get(struct sl_lmdb *e, MDB_dbi dbi, const char *key, char *buf, size_t cap, size_t *n) {
  MDB_txn *t;
  if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t)) return -1;
  MDB_val k = {strlen(key), (void *)key}, v;
  int rc = mdb_get(t, dbi, &k, &v);
  if (!rc && v.mv_size <= cap) {
    memcpy(buf, v.mv_data, v.mv_size);
    *n = v.mv_size;
  } else if (!rc) {
    rc = -1;
  }
  mdb_txn_abort(t);
  return rc;
}

/* ---- tests ---- */

static void record_format(void) {
  struct sl__resp_view v = {.owner = "key-1",
                            .owner_len = 5,
                            .resp = "{\"id\":\"r\"}",
                            .resp_len = 10,
                            .items = "[]",
                            .items_len = 2,
                            .created = T0,
                            .expires = T0 + 60};
  size_t n = sl__resp_record_len(5, 10, 2);
  CHECK(n == SL_RESP_HDR_LEN + 17);
  char buf[128];
  sl__resp_record_encode("r1", 2, &v, buf);
  struct sl__resp_view w;
  CHECK(sl__resp_record_decode("r1", 2, buf, n, &w) == 0);
  CHECK(w.owner_len == 5 && memcmp(w.owner, "key-1", 5) == 0);
  CHECK(w.resp_len == 10 && memcmp(w.resp, v.resp, 10) == 0);
  CHECK(w.items_len == 2 && memcmp(w.items, "[]", 2) == 0);
  CHECK(w.created == T0 && w.expires == T0 + 60);
  CHECK(sl__resp_record_decode("r2", 2, buf, n, &w) == -EBADMSG); /* sealed for its id */
  CHECK(sl__resp_record_decode("r1", 2, buf, n - 1, &w) == -EBADMSG);
  CHECK(sl__resp_record_decode("r1", 2, buf, SL_RESP_HDR_LEN - 1, &w) == -EBADMSG);
  for (size_t i = 0; i < n; i++) { /* every byte is covered */
    buf[i] ^= 0x20;
    CHECK(sl__resp_record_decode("r1", 2, buf, n, &w) == -EBADMSG);
    buf[i] ^= 0x20;
  }
  CHECK(sl__resp_record_decode("r1", 2, buf, n, &w) == 0);
  CHECK(sl__resp_record_len(SIZE_MAX - 10, 5, 5) == 0);
}

static void put_get_round_trip(void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 8 * MiB, &(struct sl_resp_store_opts){.ttl_s = 3600}) == 0);
  if (!f.s) return;
  const char *resp = "{\"id\":\"resp_1\",\"output\":[]}", *items = "[{\"role\":\"user\",\"content\":\"hi\"}]";
  CHECK(put(&f, "resp_1", "vk-1", T0, resp, items) == 0);
  struct sl_resp_record r;
  CHECK(sl_resp_store_get(f.s, "resp_1", "vk-1", T0 + 5, &r) == 0);
  CHECK(r.response && strcmp(r.response, resp) == 0 && r.response_len == strlen(resp));
  CHECK(r.items && strcmp(r.items, items) == 0 && r.items_len == strlen(items));
  CHECK(r.created == T0 && r.expires == T0 + 3600);
  sl_resp_record_free(&r);
  CHECK(r.response == NULL && r.items == NULL);
  /* empty owner (master key / no keys) and empty items */
  CHECK(sl_resp_store_put(f.s, "resp_2", NULL, T0, "{}", 2, NULL, 0) == 0);
  CHECK(sl_resp_store_get(f.s, "resp_2", "", T0, &r) == 0);
  CHECK(r.items && r.items[0] == 0 && r.items_len == 0 && strcmp(r.response, "{}") == 0);
  sl_resp_record_free(&r);
  CHECK(get_is(&f, "resp_2", NULL, T0, "{}") == 0);
  CHECK(get_is(&f, "resp_3", NULL, T0, "{}") == -ENOENT);
  /* bad ids */
  char longid[300];
  memset(longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = 0;
  CHECK(put(&f, longid, "", T0, "{}", "[]") == -EINVAL);
  CHECK(put(&f, "", "", T0, "{}", "[]") == -EINVAL);
  CHECK(get_is(&f, longid, "", T0, "{}") == -ENOENT);
  longid[255] = 0; /* 255 bytes is allowed */
  CHECK(put(&f, longid, "", T0, "{}", "[]") == 0);
  CHECK(get_is(&f, longid, "", T0, "{}") == 0);
  int ok;
  stats_are(&f, 3,
            counted("resp_1", "vk-1", resp, items) + counted("resp_2", "", "{}", "") + counted(longid, "", "{}", "[]"),
            &ok);
  CHECK(ok);
  fx_done(&f);
}

static void replace(void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 8 * MiB, NULL) == 0);
  if (!f.s) return;
  CHECK(put(&f, "r", "k", T0, "{\"v\":1}", "[1]") == 0);
  CHECK(put(&f, "r", "k", T0 + 10, "{\"v\":22}", "[1,2]") == 0);
  struct sl_resp_record r;
  CHECK(sl_resp_store_get(f.s, "r", "k", T0 + 11, &r) == 0);
  CHECK(r.response && strcmp(r.response, "{\"v\":22}") == 0 && strcmp(r.items, "[1,2]") == 0);
  CHECK(r.created == T0 + 10 && r.expires == T0 + 10 + 30 * 86400); /* the default TTL */
  sl_resp_record_free(&r);
  int ok;
  stats_are(&f, 1, counted("r", "k", "{\"v\":22}", "[1,2]"), &ok);
  CHECK(ok);
  /* its old age entry went with it: the only age entry is the new one */
  MDB_txn *t;
  MDB_stat ms = {0};
  CHECK(mdb_txn_begin(f.env->env, NULL, MDB_RDONLY, &t) == 0);
  CHECK(mdb_stat(t, f.env->dbi_resp_age, &ms) == 0 && ms.ms_entries == 1);
  mdb_txn_abort(t);
  fx_done(&f);
}

static void owner_isolation(void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 8 * MiB, NULL) == 0);
  if (!f.s) return;
  CHECK(put(&f, "resp_k1", "key-1", T0, "{\"a\":1}", "[]") == 0);
  CHECK(get_is(&f, "resp_k1", "key-2", T0, "{\"a\":1}") == -ENOENT);
  CHECK(get_is(&f, "resp_k1", "", T0, "{\"a\":1}") == -ENOENT); /* the master key is an owner too */
  CHECK(get_is(&f, "resp_k1", "key-", T0, "{\"a\":1}") == -ENOENT);
  CHECK(get_is(&f, "resp_k1", "key-10", T0, "{\"a\":1}") == -ENOENT);
  CHECK(sl_resp_store_delete(f.s, "resp_k1", "key-2") == -ENOENT);
  /* an expired record of another owner reads as absent, not expired */
  CHECK(get_is(&f, "resp_k1", "key-2", T0 + 40 * 86400, "{\"a\":1}") == -ENOENT);
  CHECK(get_is(&f, "resp_k1", "key-1", T0 + 1, "{\"a\":1}") == 0);
  CHECK(sl_resp_store_delete(f.s, "resp_k1", "key-1") == 0);
  fx_done(&f);
}

static void ttl_expiry(void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 8 * MiB, &(struct sl_resp_store_opts){.ttl_s = 100}) == 0);
  if (!f.s) return;
  CHECK(put(&f, "a", "k", T0, "{}", "[]") == 0);
  CHECK(get_is(&f, "a", "k", T0 + 99, "{}") == 0);
  CHECK(get_is(&f, "a", "k", T0 + 100, "{}") == -ETIME);
  CHECK(get_is(&f, "a", "k", T0 + 100, "{}") == -ENOENT);
  CHECK(get_is(&f, "a", "k", T0 + 50, "{}") == -ENOENT); /* gone, not hidden */
  int ok;
  stats_are(&f, 0, 0, &ok);
  CHECK(ok);
  /* a put sweeps expired records, oldest first, at most 16 of them */
  char id[16];
  for (int i = 0; i < 20; i++) {
    snprintf(id, sizeof id, "old%02d", i);
    CHECK(put(&f, id, "k", T0 + i, "{}", "[]") == 0);
  }
  CHECK(put(&f, "live", "k", T0 + 50, "{}", "[]") == 0); /* nothing expired yet */
  stats_are(&f, 21, 20 * counted("old00", "k", "{}", "[]") + counted("live", "k", "{}", "[]"), &ok);
  CHECK(ok);
  CHECK(put(&f, "new", "k", T0 + 140, "{}", "[]") == 0); /* old00..old19 expired; "live" not */
  stats_are(&f, 6,
            4 * counted("old00", "k", "{}", "[]") + counted("live", "k", "{}", "[]") + counted("new", "k", "{}", "[]"),
            &ok);
  CHECK(ok);
  CHECK(get_is(&f, "old15", "k", T0 + 50, "{}") == -ENOENT); /* the 16 oldest went */
  CHECK(get_is(&f, "old16", "k", T0 + 50, "{}") == 0);       /* ("now" earlier: still there) */
  CHECK(get_is(&f, "live", "k", T0 + 140, "{}") == 0);
  CHECK(put(&f, "new2", "k", T0 + 141, "{}", "[]") == 0); /* the rest go */
  stats_are(&f, 3,
            counted("live", "k", "{}", "[]") + counted("new", "k", "{}", "[]") + counted("new2", "k", "{}", "[]"), &ok);
  CHECK(ok);
  fx_done(&f);
}

static void delete (void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 8 * MiB, NULL) == 0);
  if (!f.s) return;
  CHECK(put(&f, "d1", "", T0, "{\"x\":1}", "[]") == 0);
  CHECK(put(&f, "d2", "", T0, "{\"x\":2}", "[]") == 0);
  CHECK(sl_resp_store_delete(f.s, "d1", "") == 0);
  CHECK(get_is(&f, "d1", "", T0, "{\"x\":1}") == -ENOENT);
  CHECK(sl_resp_store_delete(f.s, "d1", "") == -ENOENT);
  CHECK(sl_resp_store_delete(f.s, "nope", NULL) == -ENOENT);
  CHECK(get_is(&f, "d2", NULL, T0, "{\"x\":2}") == 0);
  int ok;
  stats_are(&f, 1, counted("d2", "", "{\"x\":2}", "[]"), &ok);
  CHECK(ok);
  fx_done(&f);
}

static void too_big(void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 8 * MiB, &(struct sl_resp_store_opts){.max_value = 100}) == 0);
  if (!f.s) return;
  char resp[101];
  memset(resp, 'x', 100);
  resp[100] = 0;
  CHECK(sl_resp_store_put(f.s, "b", "", T0, resp, 60, resp, 41) == -E2BIG);
  CHECK(sl_resp_store_put(f.s, "b", "", T0, resp, 101, NULL, 0) == -E2BIG);
  CHECK(sl_resp_store_put(f.s, "b", "", T0, resp, SIZE_MAX, resp, 2) == -E2BIG);
  CHECK(get_is(&f, "b", "", T0, "") == -ENOENT);
  CHECK(sl_resp_store_put(f.s, "b", "", T0, resp, 60, resp, 40) == 0);
  int ok;
  stats_are(&f, 1, 1 + SL_RESP_HDR_LEN + 100, &ok);
  CHECK(ok);
  fx_done(&f);
}

static void evicts_oldest_first(void) {
  struct fx f = {0};
  uint64_t one = counted("r1", "k", "{\"n\":0}", "[]");
  CHECK(fx_open(&f, 8 * MiB, &(struct sl_resp_store_opts){.max_bytes = 3 * one}) == 0);
  if (!f.s) return;
  CHECK(put(&f, "r1", "k", T0 + 1, "{\"n\":1}", "[]") == 0);
  CHECK(put(&f, "r2", "k", T0 + 2, "{\"n\":2}", "[]") == 0);
  CHECK(put(&f, "r3", "k", T0 + 3, "{\"n\":3}", "[]") == 0);
  int ok;
  stats_are(&f, 3, 3 * one, &ok);
  CHECK(ok);
  CHECK(put(&f, "r4", "k", T0 + 4, "{\"n\":4}", "[]") == 0);
  CHECK(get_is(&f, "r1", "k", T0 + 4, "{\"n\":1}") == -ENOENT);
  CHECK(get_is(&f, "r2", "k", T0 + 4, "{\"n\":2}") == 0);
  CHECK(get_is(&f, "r4", "k", T0 + 4, "{\"n\":4}") == 0);
  stats_are(&f, 3, 3 * one, &ok);
  CHECK(ok);
  /* a replaced record is as old as its replacement: r2 is now the newest */
  CHECK(put(&f, "r2", "k", T0 + 5, "{\"n\":5}", "[]") == 0);
  CHECK(put(&f, "r6", "k", T0 + 6, "{\"n\":6}", "[]") == 0);
  CHECK(get_is(&f, "r3", "k", T0 + 6, "{\"n\":3}") == -ENOENT);
  CHECK(get_is(&f, "r2", "k", T0 + 6, "{\"n\":5}") == 0);
  CHECK(get_is(&f, "r4", "k", T0 + 6, "{\"n\":4}") == 0);
  stats_are(&f, 3, 3 * one, &ok);
  CHECK(ok);
  /* a record two slots big drops the two oldest (r4, then r2) */
  CHECK(put(&f, "r7", "k", T0 + 7, "{\"n\":7,\"pad\":\"xxxxxxxxxxx\"}", "[]") == 0);
  uint64_t big = counted("r7", "k", "{\"n\":7,\"pad\":\"xxxxxxxxxxx\"}", "[]");
  CHECK(big <= 2 * one && big > one);
  CHECK(get_is(&f, "r4", "k", T0 + 7, "{\"n\":4}") == -ENOENT);
  CHECK(get_is(&f, "r2", "k", T0 + 7, "{\"n\":5}") == -ENOENT);
  CHECK(get_is(&f, "r6", "k", T0 + 7, "{\"n\":6}") == 0);
  stats_are(&f, 2, one + big, &ok);
  CHECK(ok);
  /* larger than max_bytes on its own: -ENOSPC, and nothing is dropped for it */
  char pad[256];
  memset(pad, 'p', sizeof pad - 1);
  pad[sizeof pad - 1] = 0;
  CHECK(put(&f, "r8", "k", T0 + 8, pad, "[]") == -ENOSPC);
  stats_are(&f, 2, one + big, &ok);
  CHECK(ok);
  fx_done(&f);
}

/* A map far smaller than max_bytes: puts never fail, the oldest records make room. */
static void full_map_drops_oldest(void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 1 * MiB, &(struct sl_resp_store_opts){.max_bytes = 64 * MiB}) == 0);
  if (!f.s) return;
  size_t n = 40000;
  char *resp = malloc(n + 1);
  memset(resp, 'r', n);
  resp[n] = 0;
  char id[32];
  int fails = 0;
  for (int i = 0; i < 120; i++) {
    snprintf(id, sizeof id, "resp_%03d", i);
    resp[0] = (char)('A' + i % 26);
    int prc = put(&f, id, "k", T0 + i, resp, "[]");
    if (prc) fprintf(stderr, "  put %d: %d\n", i, prc);
    if (prc != 0) fails++;
  }
  CHECK(fails == 0);
  CHECK(get_is(&f, "resp_000", "k", T0 + 200, resp) == -ENOENT);
  resp[0] = (char)('A' + 119 % 26);
  CHECK(get_is(&f, "resp_119", "k", T0 + 200, resp) == 0);
  uint64_t recs = 0, bytes = 0;
  CHECK(sl_resp_store_stats(f.s, &recs, &bytes) == 0);
  CHECK(recs > 0 && recs < 30 && bytes == recs * counted("resp_000", "k", resp, "[]"));
  free(resp);
  fx_done(&f);
}

static void damaged_records(void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 8 * MiB, &(struct sl_resp_store_opts){.ttl_s = 100}) == 0);
  if (!f.s) return;
  CHECK(put(&f, "g1", "k", T0, "{\"g\":1}", "[]") == 0);
  CHECK(put(&f, "g2", "k", T0, "{\"g\":2}", "[]") == 0);
  CHECK(put(&f, "g3", "k", T0, "{\"g\":3}", "[]") == 0);
  uint64_t one = counted("g1", "k", "{\"g\":1}", "[]");
  /* garbage for g1 */
  CHECK(raw_put(f.env, f.env->dbi_resp, "g1", "garbage bytes, not a record", 27) == 0);
  CHECK(get_is(&f, "g1", "k", T0, "{\"g\":1}") == -ENOENT);
  CHECK(get_is(&f, "g1", "k", T0, "{\"g\":1}") == -ENOENT);
  CHECK(sl_resp_store_delete(f.s, "g1", "k") == -ENOENT);
  /* one flipped byte in g2's response */
  char buf[256];
  size_t n = 0;
  CHECK(raw_get(f.env, f.env->dbi_resp, "g2", buf, sizeof buf, &n) == 0);
  buf[n - 4] ^= 1;
  CHECK(raw_put(f.env, f.env->dbi_resp, "g2", buf, n) == 0);
  CHECK(get_is(&f, "g2", "k", T0, "{\"g\":2}") == -ENOENT);
  CHECK(raw_get(f.env, f.env->dbi_resp, "g2", buf, sizeof buf, &n) == MDB_NOTFOUND); /* deleted */
  /* a damaged record is deleted by DELETE too, but reported absent */
  CHECK(raw_put(f.env, f.env->dbi_resp, "g3", "\0\0\0\0", 4) == 0);
  CHECK(sl_resp_store_delete(f.s, "g3", "k") == -ENOENT);
  CHECK(raw_get(f.env, f.env->dbi_resp, "g3", buf, sizeof buf, &n) == MDB_NOTFOUND);
  int ok;
  /* g2's header was sound, so its bytes went with it; g1's and g3's age entries were
   * out of reach and still count */
  stats_are(&f, 0, 2 * one, &ok);
  CHECK(ok);
  /* the put's sweep drops those leftovers once they expire */
  CHECK(put(&f, "g4", "k", T0 + 100, "{\"g\":4}", "[]") == 0);
  stats_are(&f, 1, one, &ok);
  CHECK(ok);
  CHECK(get_is(&f, "g4", "k", T0 + 100, "{\"g\":4}") == 0);
  fx_done(&f);
}

/* A leftover age entry naming an id that now holds a newer record drops only itself. */
static void leftover_age_entry_spares_newer_record(void) {
  struct fx f = {0};
  uint64_t one = counted("a1", "k", "{}", "[]");
  CHECK(fx_open(&f, 8 * MiB, &(struct sl_resp_store_opts){.max_bytes = 2 * one}) == 0);
  if (!f.s) return;
  CHECK(put(&f, "a1", "k", T0, "{}", "[]") == 0);
  CHECK(raw_put(f.env, f.env->dbi_resp, "a1", "xx", 2) == 0); /* header unreadable: age entry left */
  CHECK(put(&f, "a1", "k", T0 + 5, "{}", "[]") == 0);         /* bytes: 2 * one (leftover + new) */
  int ok;
  stats_are(&f, 1, 2 * one, &ok);
  CHECK(ok);
  CHECK(put(&f, "a2", "k", T0 + 6, "{}", "[]") == 0); /* evicts the leftover only */
  CHECK(get_is(&f, "a1", "k", T0 + 6, "{}") == 0);
  CHECK(get_is(&f, "a2", "k", T0 + 6, "{}") == 0);
  stats_are(&f, 2, 2 * one, &ok);
  CHECK(ok);
  fx_done(&f);
}

static int child_main(const char *dir, int rfd, int wfd) {
  struct fx f = {.dir = strdup(dir)};
  char c = 0;
  if (fx_open(&f, 8 * MiB, NULL)) return 10;
  if (write(wfd, "r", 1) != 1) return 11;
  if (read(rfd, &c, 1) != 1 || c != 'p') return 12; /* the parent's put has returned */
  if (get_is(&f, "from_parent", "k", T0 + 1, "{\"who\":\"parent\"}") != 0) return 13;
  if (put(&f, "from_child", "k", T0 + 2, "{\"who\":\"child\"}", "[]") != 0) return 14;
  if (sl_resp_store_delete(f.s, "to_delete", "k") != 0) return 15;
  if (write(wfd, "c", 1) != 1) return 16;
  fx_close(&f);
  free(f.dir);
  return 0;
}

static void two_processes(void) {
  char *dir = tmpdir();
  int p2c[2], c2p[2];
  CHECK(dir && pipe(p2c) == 0 && pipe(c2p) == 0);
  pid_t pid = fork();
  if (pid == 0) _exit(child_main(dir, p2c[0], c2p[1]));
  CHECK(pid > 0);
  struct fx f = {.dir = dir};
  CHECK(fx_open(&f, 8 * MiB, NULL) == 0);
  char c = 0;
  CHECK(read(c2p[0], &c, 1) == 1 && c == 'r');
  CHECK(put(&f, "to_delete", "k", T0, "{}", "[]") == 0);
  CHECK(put(&f, "from_parent", "k", T0 + 1, "{\"who\":\"parent\"}", "[]") == 0);
  CHECK(write(p2c[1], "p", 1) == 1);
  c = 0;
  if (read(c2p[0], &c, 1) == 1 && c == 'c') {
    CHECK(get_is(&f, "from_child", "k", T0 + 3, "{\"who\":\"child\"}") == 0);
    CHECK(get_is(&f, "to_delete", "k", T0 + 3, "{}") == -ENOENT);
    int ok;
    stats_are(&f, 2,
              counted("from_child", "k", "{\"who\":\"child\"}", "[]") +
                  counted("from_parent", "k", "{\"who\":\"parent\"}", "[]"),
              &ok);
    CHECK(ok);
  } else {
    CHECK(!"the child did not finish");
  }
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "  child status %d\n", WEXITSTATUS(st));
  close(p2c[0]);
  close(p2c[1]);
  close(c2p[0]);
  close(c2p[1]);
  fx_done(&f);
}

static void reopen_persists(void) {
  struct fx f = {0};
  CHECK(fx_open(&f, 8 * MiB, NULL) == 0);
  if (!f.s) return;
  CHECK(put(&f, "p1", "k", T0, "{\"p\":1}", "[\"i\"]") == 0);
  CHECK(put(&f, "p2", "k", T0, "{\"p\":2}", "[]") == 0);
  CHECK(sl_resp_store_delete(f.s, "p2", "k") == 0);
  fx_close(&f);
  CHECK(fx_open(&f, 8 * MiB, NULL) == 0);
  if (!f.s) return;
  struct sl_resp_record r;
  CHECK(sl_resp_store_get(f.s, "p1", "k", T0 + 1, &r) == 0);
  CHECK(r.items && strcmp(r.items, "[\"i\"]") == 0 && r.created == T0);
  sl_resp_record_free(&r);
  CHECK(get_is(&f, "p2", "k", T0 + 1, "{\"p\":2}") == -ENOENT);
  int ok;
  stats_are(&f, 1, counted("p1", "k", "{\"p\":1}", "[\"i\"]"), &ok);
  CHECK(ok);
  /* and the deep check walks the new databases */
  fx_close(&f);
  char msg[256];
  CHECK(sl_lmdb_verify(f.dir, 8 * MiB, 10000, msg, sizeof msg) == 0);
  CHECK(fx_open(&f, 8 * MiB, NULL) == 0);
  fx_done(&f);
}

CHECK_MAIN(T(record_format), T(put_get_round_trip), T(replace), T(owner_isolation), T(ttl_expiry), T(delete),
           T(too_big), T(evicts_oldest_first), T(full_map_drops_oldest), T(damaged_records),
           T(leftover_age_entry_spares_newer_record), T(two_processes), T(reopen_persists))
