/* Spend truth across hosts (cluster mode; see core/cluster.h). The one idea: every host
 * keeps its own exact ledger (store/spend.h) and mirrors it, cumulatively, into a Redis
 * hash of its own; an answer about spend is this host's ledger (exact to the last
 * request) plus the sum of every other host's mirror (one EVALSHA that sums server-side).
 * Cumulative values make every publish idempotent: a lost or repeated HSET never counts
 * anything twice, and a host that was cut off catches up by publishing again.
 *
 * Redis:  "<ns>:{spend}:hosts"          set of ledger ids
 *         "<ns>:{spend}:host:<ledger>"  hash: "<kind>|<16 hex id>|<day>" -> micro-USD of that
 *                                       UTC day, "<kind>|<id>|T" -> all-time total,
 *                                       "_instance" -> the host's instance name (for people)
 * A ledger id is made once per data directory (sl_spend_ledger_id), so a host restarted
 * under another instance name is never counted twice.
 *
 * Worker 0 publishes for its host on each tick: it walks the ledger's total rows, and for
 * each payer whose total moved since the last acknowledged publish it HSETs the total and
 * the day rows from the last published day on. A reconnect publishes everything again.
 * While Redis is down nothing is published and answers are this host's alone (the admin
 * API says so: x-sluice-spend-scope: local); nothing is lost, the next publish carries it.
 *
 * Extend: another cumulative counter per payer is one more field suffix. */
#include "core/cluster_spend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "core/cluster.h"
#include "core/cluster_features.h"
#include "core/log.h"
#include "core/redis_conn.h"
#include "core/worker.h"
#include "store/spend.h"

#define NAME_CAP   224
#define HSET_CHUNK 512 /* field/value pairs per HSET */

/* KEYS: hosts set; ARGV: host key prefix, my ledger, field prefix, mode ("T" totals,
 * "D" days, "" both), exact field ("" none: every field of the prefix). Returns field,
 * sum pairs over every other ledger. */
static const char SUM_LUA[] =
    "local hosts = redis.call('SMEMBERS', KEYS[1])\n"
    "local sum, order = {}, {}\n"
    "local pre, mode, exact = ARGV[3], ARGV[4], ARGV[5]\n"
    "local function add(f, x)\n"
    "  x = tonumber(x) or 0\n"
    "  if sum[f] == nil then sum[f] = x; order[#order + 1] = f else sum[f] = sum[f] + x end\n"
    "end\n"
    "for _, h in ipairs(hosts) do\n"
    "  if h ~= ARGV[2] then\n"
    "    if exact ~= '' then\n"
    "      local x = redis.call('HGET', ARGV[1] .. h, exact)\n"
    "      if x then add(exact, x) end\n"
    "    else\n"
    "      local kv = redis.call('HGETALL', ARGV[1] .. h)\n"
    "      for i = 1, #kv, 2 do\n"
    "        local f = kv[i]\n"
    "        if string.byte(f, 1) ~= 95 and string.sub(f, 1, #pre) == pre then\n"
    "          local t = string.sub(f, -2) == '|T'\n"
    "          if mode == '' or (mode == 'T' and t) or (mode == 'D' and not t) then add(f, kv[i + 1]) end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local out = {}\n"
    "for _, f in ipairs(order) do out[#out + 1] = f; out[#out + 1] = string.format('%.0f', sum[f]) end\n"
    "return out\n";

struct pub_ent {
  uint64_t id; /* 0: empty slot */
  unsigned kind;
  int64_t total;     /* last acknowledged */
  uint32_t last_day; /* latest day row published */
};

struct sl_cluster_spend {
  struct sl_cluster *c; /* valid while !closed */
  struct sl_worker *w;
  int refs;
  bool closed, leader;
  char ledger[33];
  char hosts_key[NAME_CAP], host_key[NAME_CAP + 40], host_prefix[NAME_CAP];
  struct sl_redis_script sum_s;
  struct pub_ent *map;
  size_t cap, used;
  bool pub_busy, full;
  uint64_t publishes, publish_failures;
};

static void sref(struct sl_cluster_spend *s) { s->refs++; }
static void sunref(struct sl_cluster_spend *s) {
  if (--s->refs == 0) {
    free(s->map);
    free(s);
  }
}
static bool live(const struct sl_cluster_spend *s) { return !s->closed && s->c && s->c->cmd; }

/* ---- fields ---- */

size_t sl_cluster_spend_field_format(const struct sl_cluster_spend_row *row, char out[40]) {
  int n = row->day == SL_CLUSTER_SPEND_TOTAL
              ? snprintf(out, 40, "%u|%016llx|T", row->kind & 3u, (unsigned long long)row->id)
              : snprintf(out, 40, "%u|%016llx|%u", row->kind & 3u, (unsigned long long)row->id, row->day);
  return n < 0 ? 0 : (size_t)n;
}

int sl_cluster_spend_field_parse(const char *s, size_t n, struct sl_cluster_spend_row *row) {
  /* "<k>|<16 hex>|<T or 1-10 digits>" */
  if (n < 2 + 16 + 2 || n > 2 + 16 + 1 + 10 || s[0] < '0' || s[0] > '3' || s[1] != '|' || s[18] != '|') return -EINVAL;
  uint64_t id = 0;
  for (size_t i = 2; i < 18; i++) {
    char ch = s[i];
    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0) return -EINVAL;
    id = id << 4 | (uint64_t)d;
  }
  uint32_t day;
  if (n == 20 && s[19] == 'T') {
    day = SL_CLUSTER_SPEND_TOTAL;
  } else {
    uint64_t d = 0;
    if (s[19] == '0' && n > 20) return -EINVAL; /* one spelling per day */
    for (size_t i = 19; i < n; i++) {
      if (s[i] < '0' || s[i] > '9') return -EINVAL;
      d = d * 10 + (uint64_t)(s[i] - '0');
    }
    if (d >= SL_CLUSTER_SPEND_TOTAL) return -EINVAL;
    day = (uint32_t)d;
  }
  row->kind = (unsigned)(s[0] - '0');
  row->id = id;
  row->day = day;
  row->micro = 0;
  return 0;
}

/* ---- the view ---- */

struct sl_cluster_spend_view {
  struct sl_cluster_spend_row *rows;
  size_t n;
};

static int cmp_row(const void *a, const void *b) {
  const struct sl_cluster_spend_row *x = a, *y = b;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return x->day < y->day ? -1 : x->day > y->day;
}

int64_t sl_cluster_spend_view_total(const struct sl_cluster_spend_view *v, unsigned kind, uint64_t id) {
  if (!v || !v->n) return 0;
  struct sl_cluster_spend_row key = {.kind = kind, .id = id, .day = SL_CLUSTER_SPEND_TOTAL};
  const struct sl_cluster_spend_row *r = bsearch(&key, v->rows, v->n, sizeof *v->rows, cmp_row);
  return r ? r->micro : 0;
}

size_t sl_cluster_spend_view_rows(const struct sl_cluster_spend_view *v, const struct sl_cluster_spend_row **rows) {
  *rows = v ? v->rows : NULL;
  return v ? v->n : 0;
}

void sl_cluster_spend_view_free(struct sl_cluster_spend_view *v) {
  if (!v) return;
  free(v->rows);
  free(v);
}

static struct sl_cluster_spend_view *view_of(const redisReply *rep) {
  if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements % 2) return NULL;
  struct sl_cluster_spend_view *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  size_t n = rep->elements / 2;
  if (n && !(v->rows = calloc(n, sizeof *v->rows))) {
    free(v);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    const redisReply *f = rep->element[2 * i], *x = rep->element[2 * i + 1];
    struct sl_cluster_spend_row row;
    if (f->type != REDIS_REPLY_STRING || x->type != REDIS_REPLY_STRING ||
        sl_cluster_spend_field_parse(f->str, f->len, &row))
      continue; /* not ours: skipped */
    long long m = strtoll(x->str, NULL, 10);
    row.micro = m > 0 ? m : 0;
    v->rows[v->n++] = row;
  }
  if (v->n > 1) qsort(v->rows, v->n, sizeof *v->rows, cmp_row);
  return v;
}

struct fetch_ctx {
  struct sl_cluster_spend *s;
  sl_cluster_spend_cb cb;
  void *ud;
};

static void fetch_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct fetch_ctx *f = ud;
  struct sl_cluster_spend_view *v = view_of(rep);
  if (!v)
    sl_log(SL_LOG_WARN, "cluster spend: other hosts' spend unavailable; answering with this host's", "\"error\":\"%s\"",
           err                                     ? err
           : rep && rep->type == REDIS_REPLY_ERROR ? rep->str
                                                   : "unexpected reply");
  f->cb(f->ud, v);
  sunref(f->s);
  free(f);
}

bool sl_cluster_spend_enabled(const struct sl_worker *w) { return w->cluster && w->cluster->spend; }

int sl_cluster_spend_fetch(struct sl_worker *w, int kind, uint64_t id, bool totals, sl_cluster_spend_cb cb, void *ud) {
  if (!w->cluster || !w->cluster->spend || !w->cluster->up) return -1;
  struct sl_cluster_spend *s = w->cluster->spend;
  if (!live(s)) return -1;
  char pre[40] = "", exact[40] = "";
  if (kind >= 0 && id) {
    struct sl_cluster_spend_row r = {.kind = (unsigned)kind, .id = id, .day = SL_CLUSTER_SPEND_TOTAL};
    if (totals)
      sl_cluster_spend_field_format(&r, exact);
    else
      snprintf(pre, sizeof pre, "%u|%016llx|", (unsigned)kind, (unsigned long long)id);
  } else if (kind >= 0) {
    snprintf(pre, sizeof pre, "%u|", (unsigned)kind);
  }
  struct fetch_ctx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->s = s;
  f->cb = cb;
  f->ud = ud;
  const char *mode = totals ? "T" : "D";
  const char *argv[] = {s->hosts_key, s->host_prefix, s->ledger, pre, mode, exact};
  size_t lens[] = {strlen(s->hosts_key), strlen(s->host_prefix), strlen(s->ledger), strlen(pre), 1, strlen(exact)};
  sref(s);
  if (!sl_redis_eval(s->c->cmd, &s->sum_s, fetch_cb, f, 1, 5, argv, lens)) {
    sunref(s);
    free(f);
    return -1;
  }
  return 0;
}

/* ---- publishing this host's ledger ---- */

static struct pub_ent *map_find(struct sl_cluster_spend *s, unsigned kind, uint64_t id, bool add) {
  if (add && (s->used + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    struct pub_ent *m = calloc(cap, sizeof *m);
    if (!m) return NULL;
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->map[i].id) continue;
      size_t j = (size_t)(s->map[i].id * 0x9E3779B97F4A7C15ull >> 7) & (cap - 1);
      while (m[j].id) j = (j + 1) & (cap - 1);
      m[j] = s->map[i];
    }
    free(s->map);
    s->map = m;
    s->cap = cap;
  }
  if (!s->cap || !id) return NULL;
  size_t j = (size_t)(id * 0x9E3779B97F4A7C15ull >> 7) & (s->cap - 1);
  for (; s->map[j].id; j = (j + 1) & (s->cap - 1))
    if (s->map[j].id == id && s->map[j].kind == kind) return &s->map[j];
  if (!add) return NULL;
  s->map[j] = (struct pub_ent){.id = id, .kind = kind};
  s->used++;
  return &s->map[j];
}

struct change {
  unsigned kind;
  uint64_t id;
  int64_t total;
  uint32_t from_day, last_day;
};

struct pub {
  struct sl_cluster_spend *s;
  struct change *ch;
  size_t nch, capch;
  /* the HSETs' fields and values */
  char (*f)[40];
  char (*v)[24];
  size_t nf, capf;
  int waiting;
  bool failed, oom;
};

static void pub_free(struct pub *p) {
  free(p->ch);
  free(p->f);
  free(p->v);
  free(p);
}

static int pub_field(struct pub *p, const struct sl_cluster_spend_row *row) {
  if (p->nf == p->capf) {
    size_t cap = p->capf ? p->capf * 2 : 128;
    void *f = realloc(p->f, cap * sizeof *p->f);
    if (f) p->f = f;
    void *v = f ? realloc(p->v, cap * sizeof *p->v) : NULL;
    if (v) p->v = v;
    if (!v) return -ENOMEM;
    p->capf = cap;
  }
  sl_cluster_spend_field_format(row, p->f[p->nf]);
  snprintf(p->v[p->nf], sizeof p->v[p->nf], "%lld", (long long)row->micro);
  p->nf++;
  return 0;
}

static int totals_cb(void *ctx, enum sl_spend_kind kind, uint64_t id, const struct sl_spend_row *r) {
  struct pub *p = ctx;
  struct sl_cluster_spend *s = p->s;
  struct pub_ent *e = s->full ? NULL : map_find(s, (unsigned)kind, id, false);
  if (e && e->total == r->micro) return 0;
  if (p->nch == p->capch) {
    size_t cap = p->capch ? p->capch * 2 : 64;
    void *c = realloc(p->ch, cap * sizeof *p->ch);
    if (!c) return -ENOMEM;
    p->ch = c;
    p->capch = cap;
  }
  p->ch[p->nch++] = (struct change){(unsigned)kind, id, r->micro, e ? e->last_day : 0, e ? e->last_day : 0};
  return 0;
}

struct days_ctx {
  struct pub *p;
  struct change *c;
};

static int days_cb(void *ctx, uint32_t day, const struct sl_spend_row *r) {
  struct days_ctx *d = ctx;
  struct sl_cluster_spend_row row = {.kind = d->c->kind, .id = d->c->id, .day = day, .micro = r->micro};
  if (day > d->c->last_day) d->c->last_day = day;
  return pub_field(d->p, &row);
}

static void pub_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct pub *p = ud;
  struct sl_cluster_spend *s = p->s;
  (void)err;
  if (!rep || rep->type == REDIS_REPLY_ERROR) p->failed = true;
  if (--p->waiting == 0) {
    if (!s->closed) {
      s->pub_busy = false;
      if (p->failed) {
        s->publish_failures++;
      } else {
        s->publishes++;
        s->full = false;
        for (size_t i = 0; i < p->nch; i++) {
          struct pub_ent *e = map_find(s, p->ch[i].kind, p->ch[i].id, true);
          if (!e) { /* out of memory: publish everything next time */
            s->full = true;
            break;
          }
          e->total = p->ch[i].total;
          e->last_day = p->ch[i].last_day;
        }
      }
    }
    pub_free(p);
    sunref(s); /* the publish's hold */
  }
}

static void publish(struct sl_cluster_spend *s) {
  if (s->pub_busy || !live(s) || !s->w->tenancy || !s->c->up) return;
  struct pub *p = calloc(1, sizeof *p);
  if (!p) return;
  p->s = s;
  int rc = sl_spend_totals_list(s->w->tenancy, totals_cb, p);
  for (size_t i = 0; !rc && i < p->nch; i++) {
    struct change *c = &p->ch[i];
    struct sl_cluster_spend_row t = {.kind = c->kind, .id = c->id, .day = SL_CLUSTER_SPEND_TOTAL, .micro = c->total};
    struct days_ctx d = {p, c};
    rc = pub_field(p, &t);
    if (!rc) rc = sl_spend_days_list(s->w->tenancy, (enum sl_spend_kind)c->kind, c->id, c->from_day, days_cb, &d);
  }
  if (rc || (!p->nf && !s->full)) {
    pub_free(p);
    return;
  }
  s->pub_busy = true;
  p->waiting = 1; /* held until every command is sent */
  sref(s);
  /* the hosts set and the instance name with every full publish (a reconnect, the first) */
  if (s->full) {
    const char *a[] = {"SADD", s->hosts_key, s->ledger};
    size_t l[] = {4, strlen(s->hosts_key), strlen(s->ledger)};
    p->waiting++;
    if (!sl_redis_cmd(s->c->cmd, pub_cb, p, 3, a, l)) p->failed = true, p->waiting--;
    const char *b[] = {"HSET", s->host_key, "_instance", s->c->instance};
    size_t bl[] = {4, strlen(s->host_key), 9, strlen(s->c->instance)};
    p->waiting++;
    if (!sl_redis_cmd(s->c->cmd, pub_cb, p, 4, b, bl)) p->failed = true, p->waiting--;
  }
  const char **argv = calloc(2 + 2 * HSET_CHUNK, sizeof *argv);
  size_t *lens = calloc(2 + 2 * HSET_CHUNK, sizeof *lens);
  if (!argv || !lens) p->failed = true;
  for (size_t at = 0; argv && lens && at < p->nf; at += HSET_CHUNK) {
    size_t m = p->nf - at < HSET_CHUNK ? p->nf - at : HSET_CHUNK;
    argv[0] = "HSET", lens[0] = 4;
    argv[1] = s->host_key, lens[1] = strlen(s->host_key);
    for (size_t i = 0; i < m; i++) {
      argv[2 + 2 * i] = p->f[at + i], lens[2 + 2 * i] = strlen(p->f[at + i]);
      argv[3 + 2 * i] = p->v[at + i], lens[3 + 2 * i] = strlen(p->v[at + i]);
    }
    p->waiting++;
    if (!sl_redis_cmd(s->c->cmd, pub_cb, p, (int)(2 + 2 * m), argv, lens)) {
      p->failed = true, p->waiting--;
      break;
    }
  }
  free(argv);
  free(lens);
  pub_cb(p, p->failed ? NULL : &(redisReply){.type = REDIS_REPLY_STATUS}, NULL); /* drops the hold */
}

/* ---- the hooks ---- */

int sl_cluster_spend_open(struct sl_cluster *c) {
  c->spend = NULL;
  if (!c->w->tenancy) return 0; /* no ledger on this host */
  struct sl_cluster_spend *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  int rc = sl_spend_ledger_id(c->w->tenancy, s->ledger);
  if (rc) {
    free(s);
    return rc;
  }
  s->c = c;
  s->w = c->w;
  s->refs = 1;
  s->leader = c->w->index == 0;
  s->full = true;
  sl_cluster_name(c, "{spend}:hosts", s->hosts_key, sizeof s->hosts_key);
  sl_cluster_name(c, "{spend}:host:", s->host_prefix, sizeof s->host_prefix);
  snprintf(s->host_key, sizeof s->host_key, "%s%s", s->host_prefix, s->ledger);
  sl_redis_script_init(&s->sum_s, "spend_sum", SUM_LUA);
  c->spend = s;
  return 0;
}

void sl_cluster_spend_close(struct sl_cluster *c) {
  struct sl_cluster_spend *s = c->spend;
  if (!s) return;
  c->spend = NULL;
  s->closed = true;
  s->c = NULL;
  sunref(s);
}

void sl_cluster_spend_on_up(struct sl_cluster *c) {
  struct sl_cluster_spend *s = c->spend;
  if (!s || !s->leader) return;
  s->full = true; /* Redis may have lost everything: publish it all again */
  publish(s);
}

void sl_cluster_spend_tick(struct sl_cluster *c) {
  struct sl_cluster_spend *s = c->spend;
  if (!s || !s->leader) return;
  publish(s);
}
