/* Cluster admission's Lua (core/cluster_admit.c) against policy/ratelimit.c, on a real
 * redis-server (Debian's, a free loopback port, no persistence): thousands of seeded
 * random windows {minute, prev, cur} around the server's current minute (the previous,
 * the same, older, a later one: a clock step), limits and amounts, decided by the script
 * and replayed with sl_policy_rate_take_pair at the script's own `now`: the same verdict
 * and the same windows after; the settle op against sl_policy_rate_settle; budgets
 * (the hosts' spend fields' sum + others' reservations < max, one's own reservation not
 * counted, expired reservations dropped, each host's field written as max(field, its
 * spend) by admission and by the M op, so a Redis that lost the hash gets the exact sum
 * back once every host wrote its field again; E sets an expiry only where none is); the
 * deployment's pair; and sl_cluster_budget_micro. Fixed seed; the only clock is Redis's, read back. */
#include <hiredis/hiredis.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/cluster.h"
#include "core/cluster_admit.h"
#include "core/worker.h"
#include "policy/ratelimit.h"

#define REDIS_BIN "/usr/bin/redis-server"

static pid_t srv = -1;
static redisContext *rc;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ull;
}
static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &l)) exit(2);
  close(fd);
  return ntohs(a.sin_port);
}

static void kill_srv(void) {
  if (srv > 0) {
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
  }
  if (rc) redisFree(rc);
}

static redisReply *cmd(int argc, const char **argv) { return redisCommandArgv(rc, argc, argv, NULL); }

/* A windows hash holds two windows: f "" the request window (fields m p c), f "t" the
 * token window (tm tp tc). */
static void set_window(const char *k, const char *f, int64_t m, int64_t p, int64_t c) {
  char a[32], b[32], d[32], fm[8], fp[8], fc[8];
  snprintf(a, sizeof a, "%" PRId64, m);
  snprintf(b, sizeof b, "%" PRId64, p);
  snprintf(d, sizeof d, "%" PRId64, c);
  snprintf(fm, sizeof fm, "%sm", f);
  snprintf(fp, sizeof fp, "%sp", f);
  snprintf(fc, sizeof fc, "%sc", f);
  const char *argv[] = {"HSET", k, fm, a, fp, b, fc, d};
  freeReplyObject(cmd(8, argv));
}

static struct sl_rate_window get_window(const char *k, const char *f) {
  char fm[8], fp[8], fc[8];
  snprintf(fm, sizeof fm, "%sm", f);
  snprintf(fp, sizeof fp, "%sp", f);
  snprintf(fc, sizeof fc, "%sc", f);
  const char *argv[] = {"HMGET", k, fm, fp, fc};
  redisReply *r = cmd(5, argv);
  struct sl_rate_window w = {0, 0, 0};
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
    w.minute = r->element[0]->str ? strtoull(r->element[0]->str, NULL, 10) : 0;
    w.prev = r->element[1]->str ? strtoll(r->element[1]->str, NULL, 10) : 0;
    w.cur = r->element[2]->str ? strtoll(r->element[2]->str, NULL, 10) : 0;
  }
  freeReplyObject(r);
  return w;
}

static uint64_t server_minute(void) {
  const char *argv[] = {"TIME"};
  redisReply *r = cmd(1, argv);
  uint64_t ms = strtoull(r->element[0]->str, NULL, 10) * 1000 + strtoull(r->element[1]->str, NULL, 10) / 1000;
  freeReplyObject(r);
  return ms / SL_RATE_WINDOW_MS;
}

struct admit_args {
  int64_t rpm, tpm, tokens, kb, gb, resv;
  const char *field;
  int64_t drpm, dtpm, dtokens, kseed, gseed;
  const char *host; /* the admitting host's spend field ("A" when NULL) */
  int64_t kttl;
};

/* Runs the admit script; the reply's 10 integers into x. */
static bool admit(const struct admit_args *a, int64_t x[10]) {
  char v[16][64];
  snprintf(v[0], 64, "%" PRId64, a->rpm);
  snprintf(v[1], 64, "%" PRId64, a->tpm);
  snprintf(v[2], 64, "%" PRId64, a->tokens);
  snprintf(v[3], 64, "%" PRId64, a->kb);
  snprintf(v[4], 64, "%" PRId64, a->gb);
  snprintf(v[5], 64, "%" PRId64, a->resv);
  snprintf(v[6], 64, "%s", a->field ? a->field : "h/0/1");
  snprintf(v[7], 64, "60000");
  snprintf(v[8], 64, "%" PRId64, a->drpm);
  snprintf(v[9], 64, "%" PRId64, a->dtpm);
  snprintf(v[10], 64, "%" PRId64, a->dtokens);
  snprintf(v[11], 64, "%" PRId64, a->kseed);
  snprintf(v[12], 64, "%" PRId64, a->gseed);
  snprintf(v[13], 64, "%" PRId64, a->kttl);
  snprintf(v[14], 64, "0");
  snprintf(v[15], 64, "%s", a->host ? a->host : "A");
  const char *argv[3 + 6 + 16] = {"EVAL",         sl_cluster_admit_lua, "6",           "t:{k:1}:rl", "t:{k:1}:spend:0",
                                  "t:{k:1}:resv", "t:{gw}:spend:0",     "t:{gw}:resv", "t:{d:x}:rl"};
  for (int i = 0; i < 16; i++) argv[9 + i] = v[i];
  redisReply *r = cmd(25, argv);
  bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 10;
  if (!ok) printf("admit reply: %s\n", r && r->str ? r->str : "?");
  for (size_t i = 0; ok && i < 10; i++) x[i] = r->element[i]->integer;
  freeReplyObject(r);
  return ok;
}

static void reset(void) {
  const char *argv[] = {"FLUSHALL"};
  freeReplyObject(cmd(1, argv));
}

static bool same(const struct sl_rate_window *a, const struct sl_rate_window *b) {
  return a->minute == b->minute && a->prev == b->prev && a->cur == b->cur;
}

/* The script's verdict and windows against policy's, on random windows around now. */
static void test_windows_match_policy(void) {
  int disagreements = 0, admitted = 0, refused = 0;
  for (int i = 0; i < 3000; i++) {
    reset();
    uint64_t m = server_minute();
    int64_t rpm = rnd() % 4 ? rnd_in(1, 100) : 0, tpm = rnd() % 4 ? rnd_in(1, 100000) : 0;
    if (rnd() % 10 == 0) tpm = rnd_in(1, 4000000000000LL); /* large: exact integers in Lua's doubles */
    int64_t offs[] = {0, 0, 0, -1, -1, -2, -5, 1};
    struct sl_rate_window r0 = {m + offs[rnd() % 8], rnd_in(0, rpm ? rpm * 2 : 50), rnd_in(0, rpm ? rpm : 50)};
    struct sl_rate_window t0 = {m + offs[rnd() % 8], rnd_in(0, tpm ? tpm * 2 : 5000), rnd_in(0, tpm ? tpm : 5000)};
    set_window("t:{k:1}:rl", "", (int64_t)r0.minute, r0.prev, r0.cur);
    set_window("t:{k:1}:rl", "t", (int64_t)t0.minute, t0.prev, t0.cur);
    int64_t tokens = rnd_in(0, tpm ? tpm + tpm / 4 + 1 : 3000);
    struct admit_args a = {.rpm = rpm, .tpm = tpm, .tokens = tokens};
    int64_t x[10];
    CHECK(admit(&a, x));
    struct sl_rate_window rf = {(uint64_t)x[3], x[4], x[5]}, tf = {(uint64_t)x[6], x[7], x[8]};
    CHECK(same(&rf, &r0) && same(&tf, &t0)); /* returned as found */
    int p = sl_policy_rate_take_pair(&r0, rpm, &t0, tpm, tokens, (uint64_t)x[2], NULL, NULL);
    if ((p != 0) != (x[0] == 1)) disagreements++;
    if (x[0] == 0) {
      admitted++;
      struct sl_rate_window ra = get_window("t:{k:1}:rl", ""), ta = get_window("t:{k:1}:rl", "t");
      /* a window the script did not touch (limit 0) stays as set */
      if (rpm) CHECK(same(&ra, &r0));
      if (tpm) CHECK(same(&ta, &t0));
    } else {
      refused++;
    }
  }
  CHECK(disagreements == 0);
  CHECK(admitted > 300 && refused > 300); /* both sides exercised */
  if (disagreements) printf("disagreements: %d\n", disagreements);
}

/* The settle op against sl_policy_rate_settle. */
static void test_settle_matches_policy(void) {
  for (int i = 0; i < 1500; i++) {
    reset();
    uint64_t m = server_minute();
    int64_t offs[] = {0, 0, -1, -2, 1};
    struct sl_rate_window w = {m + offs[rnd() % 5], rnd_in(0, 5000), rnd_in(0, 5000)};
    set_window("t:{k:1}:rl", "t", (int64_t)w.minute, w.prev, w.cur);
    int64_t toffs[] = {0, -1, -2, 1};
    uint64_t taken = (m + toffs[rnd() % 4]) * SL_RATE_WINDOW_MS + (uint64_t)rnd_in(0, 59999);
    int64_t reserved = rnd_in(0, 3000), actual = rnd_in(0, 3000);
    char ts[32], d[32];
    snprintf(ts, sizeof ts, "%" PRIu64, taken);
    snprintf(d, sizeof d, "%" PRId64, actual - reserved);
    const char *argv[] = {"EVAL", sl_cluster_ops_lua, "1", "t:{k:1}:rl", "T", "1", ts, d};
    freeReplyObject(cmd(8, argv));
    uint64_t after = server_minute();
    struct sl_rate_window got = get_window("t:{k:1}:rl", "t");
    if (after != m) continue; /* a minute turned between the two reads: not comparable */
    struct sl_rate_window want = w;
    sl_policy_rate_settle(&want, taken, reserved, actual, m * SL_RATE_WINDOW_MS + 1);
    /* the script writes only when the units still count; otherwise the stored window is as set */
    if (taken / SL_RATE_WINDOW_MS + 1 < want.minute) want = w;
    CHECK(same(&got, &want));
    if (!same(&got, &want))
      printf("settle: set {%" PRIu64 ",%" PRId64 ",%" PRId64 "} taken %" PRIu64 " delta %s: got {%" PRIu64 ",%" PRId64
             ",%" PRId64 "} want {%" PRIu64 ",%" PRId64 ",%" PRId64 "}\n",
             w.minute, w.prev, w.cur, taken, d, got.minute, got.prev, got.cur, want.minute, want.prev, want.cur);
  }
}

static void test_budgets(void) {
  reset();
  int64_t x[10];
  /* absent counter: seeded; 99 of 100 spent admits, and reserves */
  struct admit_args a = {.kb = 100, .resv = 5, .field = "h/0/1", .kseed = 99};
  CHECK(admit(&a, x) && x[0] == 0);
  /* another request: 99 settled + 5 reserved by the first >= 100: refused, spent said */
  a.field = "h/0/2";
  CHECK(admit(&a, x) && x[0] == 2 && x[1] == 104);
  /* the first one again (its own reservation does not count against it) */
  a.field = "h/0/1";
  CHECK(admit(&a, x) && x[0] == 0);
  /* its reservation released (ops D), its host's spend now 100 (ops M); a seed below the
   * field never lowers it */
  const char *d[] = {
      "EVAL", sl_cluster_ops_lua, "2", "t:{k:1}:resv", "t:{k:1}:spend:0", "D", "1", "h/0/1", "0", "M", "2", "A", "100"};
  freeReplyObject(cmd(13, d));
  a.field = "h/0/3";
  a.kseed = 0;
  CHECK(admit(&a, x) && x[0] == 2 && x[1] == 100); /* A's 100 */
  /* an expired reservation of a crashed host is dropped */
  reset();
  const char *h[] = {"HSET", "t:{k:1}:resv", "dead/0/1", "1000:1"};
  freeReplyObject(cmd(4, h));
  struct admit_args b = {.kb = 100, .resv = 1, .field = "h/0/9", .kseed = 99};
  CHECK(admit(&b, x) && x[0] == 0);
  const char *hl[] = {"HLEN", "t:{k:1}:resv"};
  redisReply *r = cmd(2, hl);
  CHECK(r && r->integer == 1); /* only h/0/9's */
  freeReplyObject(r);
  /* the gateway's budget is checked first */
  reset();
  struct admit_args g = {.kb = 100, .gb = 10, .resv = 1, .gseed = 10};
  CHECK(admit(&g, x) && x[0] == 3 && x[1] == 10);
  /* a refused budget takes nothing from the windows */
  reset();
  struct admit_args k = {.rpm = 5, .kb = 10, .kseed = 10};
  CHECK(admit(&k, x) && x[0] == 2);
  struct sl_rate_window w = get_window("t:{k:1}:rl", "");
  CHECK(w.cur == 0);
}

static int64_t hget(const char *k, const char *f) {
  const char *argv[] = {"HGET", k, f};
  redisReply *r = cmd(3, argv);
  int64_t v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
  freeReplyObject(r);
  return v;
}

static int64_t ttl_of(const char *k) {
  const char *argv[] = {"TTL", k};
  redisReply *r = cmd(2, argv);
  int64_t v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
  freeReplyObject(r);
  return v;
}

/* ops M <host> <micro> and E <ttl> on the key's spend hash */
static void max_op(const char *host, int64_t micro, int64_t ttl) {
  char m[32], t[32];
  snprintf(m, sizeof m, "%" PRId64, micro);
  snprintf(t, sizeof t, "%" PRId64, ttl);
  const char *argv[] = {"EVAL", sl_cluster_ops_lua, "1", "t:{k:1}:spend:0", "M", "1", host, m, "E", "1", t, "0"};
  freeReplyObject(cmd(12, argv));
}

/* One field per host; the budget is their sum; every write is max(field, value), so
 * repeated, late or concurrent writes of a host's spend never count twice nor go back;
 * a Redis that lost the hash has the exact sum again once each host wrote its field. */
static void test_budget_hosts(void) {
  reset();
  int64_t x[10];
  /* A has spent 40, B 50 (neither alone near the budget) */
  struct admit_args a = {.kb = 100, .field = "A/0/1", .kseed = 40, .host = "A"};
  CHECK(admit(&a, x) && x[0] == 0);
  struct admit_args b = {.kb = 100, .field = "B/0/1", .kseed = 50, .host = "B"};
  CHECK(admit(&b, x) && x[0] == 0);
  CHECK(hget("t:{k:1}:spend:0", "A") == 40 && hget("t:{k:1}:spend:0", "B") == 50);
  /* an older (lower) write of A's changes nothing; a repeated one neither */
  max_op("A", 30, 0);
  max_op("B", 50, 0);
  CHECK(hget("t:{k:1}:spend:0", "A") == 40 && hget("t:{k:1}:spend:0", "B") == 50);
  /* A settles to 55: 105 >= 100, refused on either host, the sum said */
  max_op("A", 55, 0);
  b.field = "B/0/2";
  CHECK(admit(&b, x) && x[0] == 2 && x[1] == 105);
  a.field = "A/0/2";
  a.kseed = 55;
  CHECK(admit(&a, x) && x[0] == 2 && x[1] == 105);
  /* Redis restarts empty: A admits first and finds only its own spend (B has not spoken) */
  reset();
  a.field = "A/0/3";
  CHECK(admit(&a, x) && x[0] == 0);
  /* B's field written again (its reconnect): the exact sum is back, refused */
  reset();
  max_op("B", 50, 0);
  a.field = "A/0/4";
  CHECK(admit(&a, x) && x[0] == 2 && x[1] == 105);
  CHECK(hget("t:{k:1}:spend:0", "A") == 55);
  /* nothing spent: no field written */
  reset();
  struct admit_args z = {.kb = 100, .field = "Z/0/1", .host = "Z"};
  CHECK(admit(&z, x) && x[0] == 0);
  CHECK(hget("t:{k:1}:spend:0", "Z") == -1);
  max_op("Z", 0, 0);
  CHECK(hget("t:{k:1}:spend:0", "Z") == -1);
  /* expiry: set where none is (admission's ttl, or E's), never shortened or moved */
  reset();
  a.kttl = 5000;
  a.field = "A/0/5";
  a.kseed = 1;
  CHECK(admit(&a, x) && x[0] == 0);
  int64_t t1 = ttl_of("t:{k:1}:spend:0");
  CHECK(t1 > 4990 && t1 <= 5000);
  max_op("B", 2, 100);
  CHECK(ttl_of("t:{k:1}:spend:0") > 4990);
  reset();
  max_op("B", 2, 100);
  int64_t t2 = ttl_of("t:{k:1}:spend:0");
  CHECK(t2 > 90 && t2 <= 100);
  reset();
  max_op("B", 2, 0); /* a period without end: no expiry */
  CHECK(ttl_of("t:{k:1}:spend:0") == -1);
}

static void test_deployment(void) {
  reset();
  int64_t x[10];
  struct admit_args a = {.drpm = 3, .dtpm = -1, .dtokens = 10};
  for (int i = 0; i < 3; i++) CHECK(admit(&a, x) && x[0] == 0 && x[9] == 1);
  CHECK(admit(&a, x) && x[0] == 0 && x[9] == 0); /* full: the request is still admitted */
  struct sl_rate_window t = get_window("t:{d:x}:rl", "t");
  CHECK(t.cur == 30); /* the unlimited side counted (usage-based routing reads it) */
  /* a key refusal counts nothing on the deployment */
  reset();
  struct admit_args k = {.rpm = 1, .drpm = 3};
  CHECK(admit(&k, x) && x[0] == 0 && x[9] == 1);
  CHECK(admit(&k, x) && x[0] == 1 && x[9] == 0);
  CHECK(get_window("t:{d:x}:rl", "").cur == 1);
}

static void test_budget_micro(void) {
  CHECK(sl_cluster_budget_micro(1.0) == 1000000);
  CHECK(sl_cluster_budget_micro(0.0000001) == 1); /* below a micro-USD: still a budget */
  CHECK(sl_cluster_budget_micro(0.0000055) == 6);
  CHECK(sl_cluster_budget_micro(0) == 0);
  CHECK(sl_cluster_budget_micro(-1) == 0);
}

/* Each host's share while degraded: ceil(limit / live hosts); unlimited stays unlimited. */
static void test_share(void) {
  static struct sl_worker w;
  static struct sl_cluster c;
  CHECK(sl_cluster_share(&w, 60) == 60); /* one host */
  w.cluster = &c;
  c.live_hosts = 3;
  CHECK(sl_cluster_share(&w, 60) == 20);
  CHECK(sl_cluster_share(&w, 61) == 21);
  CHECK(sl_cluster_share(&w, 1) == 1);
  CHECK(sl_cluster_share(&w, 0) == 0);
  CHECK(sl_cluster_share(&w, -1) == -1);
  c.live_hosts = 0; /* never counted: this host alone */
  CHECK(sl_cluster_share(&w, 60) == 60);
  c.live_hosts = 10;
  CHECK(sl_cluster_share(&w, INT64_MAX) == INT64_MAX / 10 + 1); /* INT64_MAX % 10 == 7 */
}

static int64_t pttl_of(const char *k) {
  const char *argv[] = {"PTTL", k};
  redisReply *r = cmd(2, argv);
  int64_t v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -9;
  freeReplyObject(r);
  return v;
}

/* Settlement ops riding on an admission (KEYS 7.., ARGV 17.., key numbers relative to the
 * ops' own keys): applied first, exactly as the ops script applies them; the admission
 * itself answers as without them. A window gets its expiry when its minute changes (a new
 * key, a roll), not on every write. */
static void test_ops_on_admission(void) {
  for (int i = 0; i < 300; i++) {
    reset();
    uint64_t m = server_minute();
    int64_t offs[] = {0, 0, -1, -2, 1};
    struct sl_rate_window w = {m + offs[rnd() % 5], rnd_in(0, 5000), rnd_in(0, 5000)};
    set_window("t:{k:2}:rl", "t", (int64_t)w.minute, w.prev, w.cur);
    set_window("t:{k:3}:rl", "t", (int64_t)w.minute, w.prev, w.cur);
    int64_t toffs[] = {0, -1, 1};
    uint64_t taken = (m + toffs[rnd() % 3]) * SL_RATE_WINDOW_MS + (uint64_t)rnd_in(0, 59999);
    char ts[32], d[32];
    snprintf(ts, sizeof ts, "%" PRIu64, taken);
    snprintf(d, sizeof d, "%" PRId64, rnd_in(-3000, 3000));
    /* the reference: the ops script on key 3 */
    const char *ref[] = {"EVAL", sl_cluster_ops_lua, "1", "t:{k:3}:rl", "T", "1", ts, d};
    freeReplyObject(cmd(8, ref));
    /* the same op on key 2, riding on an admission of key 1 (rpm 5) */
    const char *argv[] = {"EVAL",
                          sl_cluster_admit_lua,
                          "7",
                          "t:{k:1}:rl",
                          "t:{k:1}:spend:0",
                          "t:{k:1}:resv",
                          "t:{gw}:spend:0",
                          "t:{gw}:resv",
                          "t:{d:x}:rl",
                          "t:{k:2}:rl",
                          "5",
                          "0",
                          "0",
                          "0",
                          "0",
                          "0",
                          "h/0/1",
                          "60000",
                          "0",
                          "0",
                          "0",
                          "0",
                          "0",
                          "0",
                          "0",
                          "A",
                          "T",
                          "1",
                          ts,
                          d};
    redisReply *r = cmd(30, argv);
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 10 && r->element[0]->integer == 0;
    freeReplyObject(r);
    if (server_minute() != m) continue;
    CHECK(ok);
    struct sl_rate_window a = get_window("t:{k:2}:rl", "t"), b = get_window("t:{k:3}:rl", "t");
    CHECK(same(&a, &b));
    struct sl_rate_window k1 = get_window("t:{k:1}:rl", "");
    CHECK(k1.minute == m && k1.cur == 1);
    CHECK(pttl_of("t:{k:1}:rl") > 170000); /* a new window: its expiry set */
    /* an op that rolled the window sets the expiry; one that did not leaves it as it was */
    if (w.minute < m && taken / SL_RATE_WINDOW_MS + 1 >= m) CHECK(pttl_of("t:{k:2}:rl") > 170000);
    if (w.minute >= m) CHECK(pttl_of("t:{k:2}:rl") == -1);
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (access(REDIS_BIN, X_OK) != 0) {
    printf("SKIP: %s not installed\n", REDIS_BIN);
    return 77;
  }
  int port = free_port();
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  srv = fork();
  if (srv == 0) {
    int devnull = open("/dev/null", 1);
    if (devnull >= 0) dup2(devnull, 1);
    execl(REDIS_BIN, REDIS_BIN, "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", (char *)NULL);
    _exit(127);
  }
  atexit(kill_srv);
  for (int i = 0; i < 500 && !rc; i++) { /* until it accepts (5 s at most) */
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c && !c->err) {
      rc = c;
      break;
    }
    if (c) redisFree(c);
    usleep(10000);
  }
  if (!rc) {
    printf("redis-server did not come up on port %d\n", port);
    return 1;
  }
  static const struct check_case cases[] = {
      {"windows_match_policy", test_windows_match_policy},
      {"settle_matches_policy", test_settle_matches_policy},
      {"ops_on_admission", test_ops_on_admission},
      {"budgets", test_budgets},
      {"budget_hosts", test_budget_hosts},
      {"deployment", test_deployment},
      {"budget_micro", test_budget_micro},
      {"share", test_share},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
