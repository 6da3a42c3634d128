/* core/redis_conn against a real redis-server (Debian's /usr/bin/redis-server, started
 * here on free loopback ports, no persistence): commands, 1000 pipelined INCRs answered in
 * order, EVALSHA with the NOSCRIPT fallback, error replies, a subscriber, a stopped server
 * (timeouts, down, back up on SIGCONT), a killed and restarted server (reconnect by
 * itself), AUTH (password and ACL user), cancel, close with commands pending, callbacks
 * that close the connection. Every wait runs the loop until a condition holds, with an
 * overall deadline; the only timed wait checks that something does NOT happen. Also the
 * RESP codec wrapper (store/redis_resp.h) on fixed inputs. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "core/redis_conn.h"
#include "store/redis_resp.h"

#define REDIS_BIN "/usr/bin/redis-server"

static uv_loop_t loop;
static pid_t srv_pid = -1, auth_pid = -1;
static int srv_port, auth_port;
static char certdir[64];
static pid_t tls_pid = -1;
static int tls_port;

/* ---- servers ---- */

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &l)) {
    perror("free_port");
    exit(2);
  }
  close(fd);
  return ntohs(a.sin_port);
}

static pid_t start_redis(int port, const char *password) {
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", 1);
    if (devnull >= 0) dup2(devnull, 1);
    if (password)
      execl(REDIS_BIN, REDIS_BIN, "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--requirepass", password, (char *)NULL);
    else
      execl(REDIS_BIN, REDIS_BIN, "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", (char *)NULL);
    _exit(127);
  }
  return pid;
}

static void stop_redis(pid_t *pid) {
  if (*pid <= 0) return;
  kill(*pid, SIGCONT);
  kill(*pid, SIGKILL);
  waitpid(*pid, NULL, 0);
  *pid = -1;
}

static void kill_servers(void) {
  stop_redis(&srv_pid);
  stop_redis(&auth_pid);
  stop_redis(&tls_pid);
  if (certdir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", certdir);
    if (system(cmd)) certdir[0] = 0;
  }
}

/* ---- running the loop until a condition ---- */

static bool deadline_hit;
static void on_deadline(uv_timer_t *t) {
  (void)t;
  deadline_hit = true;
}

#define RUN_UNTIL(cond, ms)                                                                                            \
  ({                                                                                                                   \
    uv_timer_t dl_;                                                                                                    \
    uv_timer_init(&loop, &dl_);                                                                                        \
    deadline_hit = false;                                                                                              \
    uv_timer_start(&dl_, on_deadline, (ms), 0);                                                                        \
    while (!(cond) && !deadline_hit) uv_run(&loop, UV_RUN_ONCE);                                                       \
    uv_close((uv_handle_t *)&dl_, NULL);                                                                               \
    uv_run(&loop, UV_RUN_NOWAIT);                                                                                      \
    (bool)(cond);                                                                                                      \
  })

/* ---- a connection with its state recorded ---- */

struct tconn {
  struct sl_redis *r;
  int ups, downs;
  bool up;
  int msgs;
  char last_ch[64], last_msg[256];
};

static void on_state(void *ud, bool up) {
  struct tconn *c = ud;
  CHECK(up != c->up); /* never twice the same */
  c->up = up;
  if (up)
    c->ups++;
  else
    c->downs++;
}

static void on_message(void *ud, const char *ch, size_t chl, const char *msg, size_t ml) {
  struct tconn *c = ud;
  c->msgs++;
  snprintf(c->last_ch, sizeof c->last_ch, "%.*s", (int)chl, ch);
  snprintf(c->last_msg, sizeof c->last_msg, "%.*s", (int)ml, msg);
}

static struct sl_redis_opts base_opts(struct tconn *c, int port) {
  struct sl_redis_opts o = {.host = "127.0.0.1",
                            .port = port,
                            .timeout_ms = 400,
                            .connect_timeout_ms = 400,
                            .name = "sluice:test",
                            .on_state = on_state,
                            .ud = c};
  return o;
}

static bool open_up(struct tconn *c, const struct sl_redis_opts *o) {
  memset(c, 0, sizeof *c);
  struct sl_redis_opts oo = *o;
  oo.ud = c;
  if (sl_redis_open(&loop, &oo, &c->r)) return false;
  return RUN_UNTIL(c->up, 10000);
}

static void close_conn(struct tconn *c) {
  if (!c->r) return;
  sl_redis_close(c->r);
  c->r = NULL;
  uv_run(&loop, UV_RUN_NOWAIT); /* close callbacks */
}

/* ---- a command's result ---- */

struct res {
  int calls;
  int type;
  long long integer;
  char str[256];
  char err[64];
};

static void on_res(void *ud, const struct redisReply *rep, const char *err) {
  struct res *r = ud;
  r->calls++;
  if (!rep) {
    snprintf(r->err, sizeof r->err, "%s", err ? err : "?");
    return;
  }
  r->type = rep->type;
  r->integer = rep->integer;
  if (rep->str) snprintf(r->str, sizeof r->str, "%.*s", (int)rep->len, rep->str);
}

static uint64_t cmdv(struct tconn *c, struct res *out, int argc, const char *const *argv) {
  size_t lens[16];
  for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
  memset(out, 0, sizeof *out);
  return sl_redis_cmd(c->r, on_res, out, argc, argv, lens);
}

#define CMD(c, res, ...)                                                                                               \
  cmdv((c), (res), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),                                \
       (const char *const[]){__VA_ARGS__})

static bool do_cmd(struct tconn *c, struct res *out, int argc, const char *const *argv) {
  if (!cmdv(c, out, argc, argv)) return false;
  return RUN_UNTIL(out->calls == 1, 5000);
}
#define DO(c, res, ...)                                                                                                \
  do_cmd((c), (res), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),                              \
         (const char *const[]){__VA_ARGS__})

/* ---- tests ---- */

static void test_resp_codec(void) {
  const char *argv[] = {"SET", "k", "a\r\nb"};
  size_t lens[] = {3, 1, 4};
  char *cmd;
  long n = sl_resp_format(&cmd, 3, argv, lens);
  const char want[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n";
  CHECK(n == (long)sizeof want - 1);
  CHECK(cmd && memcmp(cmd, want, sizeof want - 1) == 0);
  sl_resp_cmd_free(cmd);
  CHECK(sl_resp_format(&cmd, 0, argv, lens) == -1);
  CHECK(sl_resp_format_len(0, argv, lens) == 0);
  /* in place: the same bytes as hiredis's redisFormatCommandArgv, on random argv */
  unsigned seed = 12345;
  for (int it = 0; it < 2000; it++) {
    char bytes[16][300];
    const char *av[16];
    size_t al[16];
    seed = seed * 1103515245u + 12345u;
    int ac = 1 + (int)((seed >> 8) % 16);
    for (int i = 0; i < ac; i++) {
      seed = seed * 1103515245u + 12345u;
      al[i] = (seed >> 8) % (i % 3 == 0 ? 300 : 12);
      for (size_t j = 0; j < al[i]; j++) {
        seed = seed * 1103515245u + 12345u;
        bytes[i][j] = (char)(seed >> 16);
      }
      av[i] = bytes[i];
    }
    char *ref = NULL;
    int rn = redisFormatCommandArgv(&ref, ac, av, al);
    size_t dn = sl_resp_format_len(ac, av, al);
    char *direct = malloc(dn + 1);
    CHECK(rn > 0 && dn == (size_t)rn && direct);
    if (direct && ref && dn == (size_t)rn) {
      CHECK(sl_resp_format_to(direct, ac, av, al) == dn);
      CHECK(memcmp(direct, ref, dn) == 0);
    }
    free(direct);
    redisFreeCommand(ref);
  }

  struct sl_resp_reader *rd = sl_resp_reader_new();
  char err[160];
  redisReply *rep;
  const char in[] = "+OK\r\n:42\r\n*2\r\n$5\r\nhello\r\n$-1\r\n-NOSCRIPT No matching script\r\n";
  for (size_t i = 0; i < sizeof in - 1; i++) CHECK(sl_resp_reader_feed(rd, in + i, 1, err, sizeof err) == 0);
  CHECK(sl_resp_reader_next(rd, &rep, err, sizeof err) == 1);
  CHECK(sl_resp_str_eq(rep, "ok"));
  sl_resp_reply_free(rep);
  CHECK(sl_resp_reader_next(rd, &rep, err, sizeof err) == 1);
  CHECK(rep->type == REDIS_REPLY_INTEGER && rep->integer == 42);
  sl_resp_reply_free(rep);
  CHECK(sl_resp_reader_next(rd, &rep, err, sizeof err) == 1);
  CHECK(rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && sl_resp_str_eq(rep->element[0], "hello") &&
        rep->element[1]->type == REDIS_REPLY_NIL);
  sl_resp_reply_free(rep);
  CHECK(sl_resp_reader_next(rd, &rep, err, sizeof err) == 1);
  CHECK(sl_resp_is_error(rep, "NOSCRIPT") && !sl_resp_is_error(rep, "ERR"));
  sl_resp_reply_free(rep);
  CHECK(sl_resp_reader_next(rd, &rep, err, sizeof err) == 0);
  /* an announced array beyond the bound is an error, not an allocation */
  const char big[] = "*999999999\r\n";
  CHECK(sl_resp_reader_feed(rd, big, sizeof big - 1, err, sizeof err) == 0);
  CHECK(sl_resp_reader_next(rd, &rep, err, sizeof err) == -1);
  CHECK(strstr(err, "protocol error") != NULL);
  CHECK(sl_resp_reader_feed(rd, "+OK\r\n", 5, err, sizeof err) == -1); /* stays failed */
  sl_resp_reader_free(rd);
  rd = sl_resp_reader_new();
  CHECK(sl_resp_reader_feed(rd, "?what\r\n", 7, err, sizeof err) == 0);
  CHECK(sl_resp_reader_next(rd, &rep, err, sizeof err) == -1);
  sl_resp_reader_free(rd);
}

static void test_not_up(void) {
  struct tconn c = {0};
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(sl_redis_open(&loop, &o, &c.r) == 0);
  struct res r;
  CHECK(!sl_redis_up(c.r));
  CHECK(CMD(&c, &r, "PING") == 0); /* not connected yet: refused, no callback */
  CHECK(RUN_UNTIL(c.up, 10000));
  CHECK(r.calls == 0);
  close_conn(&c);
  /* bad options */
  struct sl_redis *x;
  o.port = 0;
  CHECK(sl_redis_open(&loop, &o, &x) == -EINVAL);
}

static void test_set_get(void) {
  struct tconn c;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  struct res r;
  CHECK(DO(&c, &r, "SET", "greeting", "hello world"));
  CHECK(r.type == REDIS_REPLY_STATUS && strcmp(r.str, "OK") == 0);
  CHECK(DO(&c, &r, "GET", "greeting"));
  CHECK(r.type == REDIS_REPLY_STRING && strcmp(r.str, "hello world") == 0);
  CHECK(DO(&c, &r, "GET", "nothing-here"));
  CHECK(r.type == REDIS_REPLY_NIL);
  CHECK(DO(&c, &r, "CLIENT", "GETNAME"));
  CHECK(strcmp(r.str, "sluice:test") == 0);
  close_conn(&c);
  o.name = "sluice:my host\n:w0"; /* spaces and control bytes: made acceptable */
  CHECK(open_up(&c, &o));
  CHECK(DO(&c, &r, "CLIENT", "GETNAME"));
  CHECK(strcmp(r.str, "sluice:my_host_:w0") == 0);
  /* binary safe */
  const char *argv[] = {"SET", "bin", "a\0b"};
  size_t lens[] = {3, 3, 3};
  memset(&r, 0, sizeof r);
  CHECK(sl_redis_cmd(c.r, on_res, &r, 3, argv, lens) > 0);
  CHECK(RUN_UNTIL(r.calls == 1, 5000));
  CHECK(DO(&c, &r, "STRLEN", "bin"));
  CHECK(r.integer == 3);
  CHECK(sl_redis_pending(c.r) == 0);
  close_conn(&c);
  /* by name: resolved with getaddrinfo (every address tried in turn) */
  o.host = "localhost";
  CHECK(open_up(&c, &o));
  CHECK(DO(&c, &r, "GET", "greeting"));
  CHECK(strcmp(r.str, "hello world") == 0);
  close_conn(&c);
  /* a name that does not resolve: never up, closes cleanly with the lookup in flight */
  o.host = "no-such-host.invalid";
  struct tconn w = {0};
  o.ud = &w;
  CHECK(sl_redis_open(&loop, &o, &w.r) == 0);
  CHECK(!RUN_UNTIL(w.up, 300));
  close_conn(&w);
}

struct incr_run {
  int next, bad, got;
};
static void on_incr(void *ud, const struct redisReply *rep, const char *err) {
  struct incr_run *ir = ud;
  ir->got++;
  if (err || !rep || rep->type != REDIS_REPLY_INTEGER || rep->integer != ++ir->next) ir->bad++;
}

static void test_pipeline(void) {
  struct tconn c;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  struct res r;
  CHECK(DO(&c, &r, "DEL", "ctr"));
  struct incr_run ir = {0};
  const char *argv[] = {"INCR", "ctr"};
  size_t lens[] = {4, 3};
  uint64_t last = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t t = sl_redis_cmd(c.r, on_incr, &ir, 2, argv, lens);
    CHECK(t > last);
    last = t;
  }
  CHECK(sl_redis_pending(c.r) == 1000);
  CHECK(RUN_UNTIL(ir.got == 1000, 10000));
  CHECK(ir.bad == 0 && ir.next == 1000);
  CHECK(sl_redis_pending(c.r) == 0);
  close_conn(&c);
}

static struct sl_redis_script script;

static void test_eval_noscript(void) {
  struct tconn c;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  sl_redis_script_init(&script, "concat", "return KEYS[1] .. ':' .. ARGV[1]");
  CHECK(strlen(script.sha1) == 40);
  struct res r;
  CHECK(DO(&c, &r, "SCRIPT", "LOAD", script.source));
  CHECK(strcmp(r.str, script.sha1) == 0); /* our SHA1 is Redis's */
  CHECK(DO(&c, &r, "SCRIPT", "FLUSH"));
  /* a bare EVALSHA now fails: the fallback is what makes the next one work */
  CHECK(DO(&c, &r, "EVALSHA", script.sha1, "0"));
  CHECK(r.type == REDIS_REPLY_ERROR && strncmp(r.str, "NOSCRIPT", 8) == 0);
  const char *argv[] = {"k1", "v1"};
  size_t lens[] = {2, 2};
  for (int round = 0; round < 2; round++) {
    struct res e[3];
    memset(e, 0, sizeof e);
    for (int i = 0; i < 3; i++) CHECK(sl_redis_eval(c.r, &script, on_res, &e[i], 1, 1, argv, lens) > 0);
    CHECK(RUN_UNTIL(e[0].calls && e[1].calls && e[2].calls, 5000));
    for (int i = 0; i < 3; i++) {
      CHECK(e[i].calls == 1);
      CHECK(e[i].type == REDIS_REPLY_STRING && strcmp(e[i].str, "k1:v1") == 0);
    }
  }
  /* a script error is a reply, not a failure (and not retried forever) */
  static struct sl_redis_script bad;
  sl_redis_script_init(&bad, "bad", "return redis.call('NOSUCHCOMMAND')");
  struct res e;
  memset(&e, 0, sizeof e);
  CHECK(sl_redis_eval(c.r, &bad, on_res, &e, 0, 0, NULL, NULL) > 0);
  CHECK(RUN_UNTIL(e.calls == 1, 5000));
  CHECK(e.type == REDIS_REPLY_ERROR);
  close_conn(&c);
}

static void test_error_reply(void) {
  struct tconn c;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  struct res r;
  CHECK(DO(&c, &r, "SET", "notanumber", "abc"));
  CHECK(DO(&c, &r, "INCR", "notanumber"));
  CHECK(r.type == REDIS_REPLY_ERROR && strstr(r.str, "not an integer") != NULL);
  CHECK(r.err[0] == 0);
  CHECK(DO(&c, &r, "NOSUCHCOMMAND"));
  CHECK(r.type == REDIS_REPLY_ERROR);
  CHECK(sl_redis_up(c.r)); /* an error reply does not break the connection */
  CHECK(DO(&c, &r, "PING"));
  CHECK(strcmp(r.str, "PONG") == 0);
  close_conn(&c);
}

static void test_subscriber(void) {
  struct tconn c, s;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  const char *const chans[] = {"sl:one", "sl:two", NULL};
  struct sl_redis_opts so = base_opts(&s, srv_port);
  so.channels = chans;
  so.on_message = on_message;
  CHECK(open_up(&s, &so));
  struct res r;
  CHECK(CMD(&s, &r, "PING") == 0); /* a subscriber takes no commands */
  CHECK(DO(&c, &r, "PUBLISH", "sl:two", "hello"));
  CHECK(r.integer == 1);
  CHECK(RUN_UNTIL(s.msgs == 1, 5000));
  CHECK(strcmp(s.last_ch, "sl:two") == 0 && strcmp(s.last_msg, "hello") == 0);
  CHECK(DO(&c, &r, "PUBLISH", "sl:one", "again"));
  CHECK(RUN_UNTIL(s.msgs == 2, 5000));
  CHECK(strcmp(s.last_ch, "sl:one") == 0 && strcmp(s.last_msg, "again") == 0);
  /* idle longer than the keep-alive period: still up (PING in subscribed mode works) */
  CHECK(!RUN_UNTIL(!s.up, 1500));
  CHECK(s.downs == 0);
  close_conn(&s);
  close_conn(&c);
}

static void test_stop_cont(void) {
  struct tconn c, s;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  const char *const chans[] = {"sl:one", NULL};
  struct sl_redis_opts so = base_opts(&s, srv_port);
  so.channels = chans;
  so.on_message = on_message;
  CHECK(open_up(&s, &so));
  kill(srv_pid, SIGSTOP);
  struct res r1, r2;
  CHECK(CMD(&c, &r1, "SET", "a", "1") > 0);
  CHECK(CMD(&c, &r2, "GET", "a") > 0);
  CHECK(RUN_UNTIL(r1.calls && r2.calls, 5000));
  CHECK(strcmp(r1.err, "timeout") == 0 && strcmp(r2.err, "timeout") == 0);
  CHECK(!c.up && c.downs == 1);
  CHECK(!sl_redis_up(c.r));
  CHECK(CMD(&c, &r1, "PING") == 0);
  /* the idle subscriber notices too (keep-alive PING) */
  CHECK(RUN_UNTIL(!s.up, 5000));
  kill(srv_pid, SIGCONT);
  CHECK(RUN_UNTIL(c.up && s.up, 10000));
  CHECK(c.ups == 2 && s.ups == 2);
  CHECK(DO(&c, &r1, "PUBLISH", "sl:one", "back"));
  CHECK(RUN_UNTIL(s.msgs == 1, 5000));
  CHECK(strcmp(s.last_msg, "back") == 0);
  close_conn(&s);
  close_conn(&c);
}

static void test_restart(void) {
  struct tconn c, s;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  const char *const chans[] = {"sl:one", NULL};
  struct sl_redis_opts so = base_opts(&s, srv_port);
  so.channels = chans;
  so.on_message = on_message;
  CHECK(open_up(&s, &so));
  static struct sl_redis_script sc;
  sl_redis_script_init(&sc, "one", "return 1");
  struct res r;
  memset(&r, 0, sizeof r);
  CHECK(sl_redis_eval(c.r, &sc, on_res, &r, 0, 0, NULL, NULL) > 0);
  CHECK(RUN_UNTIL(r.calls == 1, 5000) && r.integer == 1);
  /* pending commands fail with "connection lost" when the server dies */
  kill(srv_pid, SIGSTOP);
  CHECK(CMD(&c, &r, "PING") > 0);
  kill(srv_pid, SIGKILL);
  waitpid(srv_pid, NULL, 0);
  srv_pid = -1;
  CHECK(RUN_UNTIL(r.calls == 1 && !c.up && !s.up, 5000));
  CHECK(strcmp(r.err, "connection lost") == 0 || strcmp(r.err, "timeout") == 0);
  /* reconnect attempts fail while nothing listens; then the server returns */
  CHECK(!RUN_UNTIL(c.up, 300));
  srv_pid = start_redis(srv_port, NULL);
  CHECK(RUN_UNTIL(c.up && s.up, 10000));
  CHECK(c.ups == 2 && c.downs == 1);
  /* the new server has no scripts: EVALSHA falls back to SCRIPT LOAD */
  memset(&r, 0, sizeof r);
  CHECK(sl_redis_eval(c.r, &sc, on_res, &r, 0, 0, NULL, NULL) > 0);
  CHECK(RUN_UNTIL(r.calls == 1, 5000) && r.type == REDIS_REPLY_INTEGER && r.integer == 1);
  CHECK(DO(&c, &r, "PUBLISH", "sl:one", "fresh"));
  CHECK(RUN_UNTIL(s.msgs == 1, 5000));
  close_conn(&s);
  close_conn(&c);
}

static void test_auth(void) {
  struct tconn c;
  struct sl_redis_opts o = base_opts(&c, auth_port);
  o.password = "s3cret";
  o.db = 2;
  CHECK(open_up(&c, &o));
  struct res r;
  CHECK(DO(&c, &r, "SET", "in-db-2", "x"));
  CHECK(DO(&c, &r, "CLIENT", "INFO"));
  CHECK(strstr(r.str, " db=2 ") != NULL);
  CHECK(DO(&c, &r, "ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "+@all"));
  CHECK(r.type == REDIS_REPLY_STATUS);
  close_conn(&c);

  o.username = "alice";
  o.password = "alicepw";
  o.db = 0;
  CHECK(open_up(&c, &o));
  CHECK(DO(&c, &r, "ACL", "WHOAMI"));
  CHECK(strcmp(r.str, "alice") == 0);
  close_conn(&c);

  /* a wrong password never comes up (and keeps retrying quietly) */
  struct tconn w = {0};
  o.username = NULL;
  o.password = "wrong";
  struct sl_redis_opts wo = o;
  wo.ud = &w;
  CHECK(sl_redis_open(&loop, &wo, &w.r) == 0);
  CHECK(!RUN_UNTIL(w.up, 600));
  CHECK(w.ups == 0);
  close_conn(&w);
  /* no password on a server that wants one: NOAUTH on PING, not up */
  o.password = NULL;
  wo = o;
  wo.ud = &w;
  CHECK(sl_redis_open(&loop, &wo, &w.r) == 0);
  CHECK(!RUN_UNTIL(w.up, 600));
  close_conn(&w);
}

static void test_cancel(void) {
  struct tconn c;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  struct res a, b, d;
  uint64_t ta = CMD(&c, &a, "SET", "cancelled", "1");
  uint64_t tb = CMD(&c, &b, "GET", "cancelled");
  uint64_t td = CMD(&c, &d, "PING");
  CHECK(ta && tb && td);
  sl_redis_cancel(c.r, tb);
  sl_redis_cancel(c.r, 999999); /* unknown: ignored */
  CHECK(RUN_UNTIL(d.calls == 1, 5000));
  CHECK(a.calls == 1 && b.calls == 0);
  CHECK(sl_redis_pending(c.r) == 0);
  /* cancelled commands still fail nothing else on close */
  struct res e;
  uint64_t te = CMD(&c, &e, "PING");
  sl_redis_cancel(c.r, te);
  close_conn(&c);
  CHECK(e.calls == 0);
}

/* close with commands pending: each gets "closed"; one of them closes re-entrantly */
struct reent {
  struct tconn *c;
  int calls;
  char err[32];
  uint64_t cancel_me;
  bool close_it, cmd_it;
  uint64_t cmd_ticket;
};
static void on_reent(void *ud, const struct redisReply *rep, const char *err) {
  struct reent *x = ud;
  (void)rep;
  x->calls++;
  snprintf(x->err, sizeof x->err, "%s", err ? err : "");
  if (x->cancel_me) sl_redis_cancel(x->c->r, x->cancel_me);
  if (x->cmd_it) {
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    x->cmd_ticket = sl_redis_cmd(x->c->r, NULL, NULL, 1, argv, lens);
  }
  if (x->close_it) {
    sl_redis_close(x->c->r);
    sl_redis_close(x->c->r); /* twice: harmless */
  }
}

static void test_close_pending(void) {
  struct tconn c;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  const char *argv[] = {"PING"};
  size_t lens[] = {4};
  struct reent x[4] = {{.c = &c, .cmd_it = true}, {.c = &c}, {.c = &c}, {.c = &c}};
  uint64_t t[4];
  for (int i = 0; i < 4; i++) t[i] = sl_redis_cmd(c.r, on_reent, &x[i], 1, argv, lens);
  x[0].cancel_me = t[2];
  close_conn(&c);
  CHECK(x[0].calls == 1 && strcmp(x[0].err, "closed") == 0);
  CHECK(x[0].cmd_ticket == 0); /* closing: no new commands */
  CHECK(x[1].calls == 1 && strcmp(x[1].err, "closed") == 0);
  CHECK(x[2].calls == 0); /* cancelled from inside another callback */
  CHECK(x[3].calls == 1);

  /* a reply callback that closes the connection, with more replies in the same read */
  CHECK(open_up(&c, &o));
  struct reent y[3] = {{.c = &c, .close_it = true}, {.c = &c}, {.c = &c}};
  for (int i = 0; i < 3; i++) CHECK(sl_redis_cmd(c.r, on_reent, &y[i], 1, argv, lens) > 0);
  CHECK(RUN_UNTIL(y[0].calls == 1, 5000));
  CHECK(y[0].err[0] == 0); /* its reply */
  CHECK(y[1].calls == 1 && strcmp(y[1].err, "closed") == 0);
  CHECK(y[2].calls == 1 && strcmp(y[2].err, "closed") == 0);
  c.r = NULL;
  uv_run(&loop, UV_RUN_NOWAIT);

  /* a callback that issues a command from its reply */
  CHECK(open_up(&c, &o));
  struct reent z = {.c = &c, .cmd_it = true};
  CHECK(sl_redis_cmd(c.r, on_reent, &z, 1, argv, lens) > 0);
  CHECK(RUN_UNTIL(z.calls == 1, 5000));
  CHECK(z.cmd_ticket > 0);
  CHECK(RUN_UNTIL(sl_redis_pending(c.r) == 0, 5000));
  close_conn(&c);
}

/* closing from inside the failure path: a timed-out command's callback closes the
 * connection (the rest get "closed"), and on_state(false) closing it */
static struct sl_redis *state_close_target;
static int state_close_calls;
static void on_state_close(void *ud, bool up) {
  (void)ud;
  state_close_calls++;
  if (!up && state_close_target) {
    sl_redis_close(state_close_target);
    state_close_target = NULL;
  }
}

static void test_close_in_failure(void) {
  struct tconn c;
  struct sl_redis_opts o = base_opts(&c, srv_port);
  CHECK(open_up(&c, &o));
  kill(srv_pid, SIGSTOP);
  const char *argv[] = {"PING"};
  size_t lens[] = {4};
  struct reent x[3] = {{.c = &c, .close_it = true}, {.c = &c}, {.c = &c}};
  for (int i = 0; i < 3; i++) CHECK(sl_redis_cmd(c.r, on_reent, &x[i], 1, argv, lens) > 0);
  CHECK(RUN_UNTIL(x[0].calls == 1, 5000));
  CHECK(strcmp(x[0].err, "timeout") == 0);
  CHECK(x[1].calls == 1 && strcmp(x[1].err, "closed") == 0);
  CHECK(x[2].calls == 1 && strcmp(x[2].err, "closed") == 0);
  CHECK(c.downs == 0); /* closed before the state change was reported */
  c.r = NULL;
  uv_run(&loop, UV_RUN_NOWAIT);

  /* on_state(false) closes it: the timeout path must not touch it afterwards */
  struct sl_redis *r2;
  struct sl_redis_opts o2 = base_opts(NULL, srv_port);
  o2.on_state = on_state_close;
  state_close_calls = 0;
  kill(srv_pid, SIGCONT);
  CHECK(sl_redis_open(&loop, &o2, &r2) == 0);
  CHECK(RUN_UNTIL(sl_redis_up(r2), 10000));
  state_close_target = r2;
  kill(srv_pid, SIGSTOP);
  struct res r;
  memset(&r, 0, sizeof r);
  CHECK(sl_redis_cmd(r2, on_res, &r, 1, argv, lens) > 0);
  CHECK(RUN_UNTIL(state_close_target == NULL, 5000));
  CHECK(r.calls == 1 && strcmp(r.err, "timeout") == 0);
  CHECK(state_close_calls == 2);
  kill(srv_pid, SIGCONT);
  uv_run(&loop, UV_RUN_NOWAIT);
}

/* ---- TLS: redis-server --tls-port with a throwaway CA made by the openssl CLI ---- */

static bool make_certs(void) {
  strcpy(certdir, "/tmp/sl-redis-XXXXXX");
  if (!mkdtemp(certdir)) return false;
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "cd %s && cat > ca.cnf <<'EOF'\n"
           "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = sluice test CA\n"
           "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
           "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
           "EOF\n"
           "openssl req -x509 -config ca.cnf -extensions v3_ca -newkey ec "
           "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem "
           "-days 2 2>/dev/null || exit 1\n"
           "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
           "extendedKeyUsage=serverAuth\\n' > srv.ext\n"
           "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
           "-keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null || exit 1\n"
           "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
           "-days 2 -out srv.pem -extfile srv.ext 2>/dev/null || exit 1\n",
           certdir);
  return system(cmd) == 0;
}

static pid_t start_tls_redis(int port) {
  char p[16], cert[128], key[128], ca[128];
  snprintf(p, sizeof p, "%d", port);
  snprintf(cert, sizeof cert, "%s/srv.pem", certdir);
  snprintf(key, sizeof key, "%s/srv.key", certdir);
  snprintf(ca, sizeof ca, "%s/ca.pem", certdir);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", 1);
    if (devnull >= 0) dup2(devnull, 1);
    execl(REDIS_BIN, REDIS_BIN, "--port", "0", "--tls-port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly",
          "no", "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
          "--requirepass", "tlspw", (char *)NULL);
    _exit(127);
  }
  return pid;
}

static void test_tls(void) {
  if (!make_certs()) {
    CHECK(!"cannot make test certificates with the openssl CLI");
    return;
  }
  tls_port = free_port();
  tls_pid = start_tls_redis(tls_port);
  char ca[128];
  snprintf(ca, sizeof ca, "%s/ca.pem", certdir);
  struct tconn c, s;
  struct sl_redis_opts o = base_opts(&c, tls_port);
  o.tls = true;
  o.ca_file = ca;
  o.password = "tlspw";
  o.connect_timeout_ms = 1000;
  CHECK(open_up(&c, &o)); /* verified against the IP SAN 127.0.0.1 */
  struct res r;
  CHECK(DO(&c, &r, "SET", "tls-key", "over tls"));
  CHECK(DO(&c, &r, "GET", "tls-key"));
  CHECK(strcmp(r.str, "over tls") == 0);
  /* a large value crosses many TLS records both ways */
  size_t big = 300000;
  char *v = malloc(big);
  memset(v, 'x', big);
  const char *argv[] = {"SET", "tls-big", v};
  size_t lens[] = {3, 7, big};
  memset(&r, 0, sizeof r);
  CHECK(sl_redis_cmd(c.r, on_res, &r, 3, argv, lens) > 0);
  CHECK(RUN_UNTIL(r.calls == 1, 5000) && strcmp(r.str, "OK") == 0);
  free(v);
  CHECK(DO(&c, &r, "STRLEN", "tls-big"));
  CHECK(r.integer == (long long)big);
  struct incr_run ir = {0};
  const char *iargv[] = {"INCR", "tls-ctr"};
  size_t ilens[] = {4, 7};
  for (int i = 0; i < 500; i++) CHECK(sl_redis_cmd(c.r, on_incr, &ir, 2, iargv, ilens) > 0);
  CHECK(RUN_UNTIL(ir.got == 500, 10000));
  CHECK(ir.bad == 0);
  /* subscriber over TLS, by name (SNI localhost) */
  const char *const chans[] = {"sl:tls", NULL};
  struct sl_redis_opts so = base_opts(&s, tls_port);
  so.tls = true;
  so.ca_file = ca;
  so.password = "tlspw";
  so.tls_server_name = "localhost";
  so.channels = chans;
  so.on_message = on_message;
  CHECK(open_up(&s, &so));
  CHECK(DO(&c, &r, "PUBLISH", "sl:tls", "sealed"));
  CHECK(RUN_UNTIL(s.msgs == 1, 5000));
  CHECK(strcmp(s.last_msg, "sealed") == 0);
  /* the server restarts: both come back by themselves */
  stop_redis(&tls_pid);
  CHECK(RUN_UNTIL(!c.up && !s.up, 5000));
  tls_pid = start_tls_redis(tls_port);
  CHECK(RUN_UNTIL(c.up && s.up, 10000));
  CHECK(DO(&c, &r, "PING"));
  CHECK(strcmp(r.str, "PONG") == 0);
  close_conn(&s);
  close_conn(&c);

  /* a name the certificate does not carry, or a CA that did not sign it: never up */
  struct tconn w = {0};
  struct sl_redis_opts wo = o;
  wo.tls_server_name = "other.example";
  wo.ud = &w;
  CHECK(sl_redis_open(&loop, &wo, &w.r) == 0);
  CHECK(!RUN_UNTIL(w.up, 600));
  close_conn(&w);
  wo = o;
  wo.ca_file = NULL; /* the system store does not know our test CA */
  wo.ud = &w;
  CHECK(sl_redis_open(&loop, &wo, &w.r) == 0);
  CHECK(!RUN_UNTIL(w.up, 600));
  close_conn(&w);
  /* plain text to a TLS port: never up */
  wo = o;
  wo.tls = false;
  wo.ud = &w;
  CHECK(sl_redis_open(&loop, &wo, &w.r) == 0);
  CHECK(!RUN_UNTIL(w.up, 600));
  close_conn(&w);
  /* a CA file that does not exist: refused at open */
  wo = o;
  wo.ca_file = "/nonexistent/ca.pem";
  CHECK(sl_redis_open(&loop, &wo, &w.r) < 0);
}

static void test_loop_freed(void) {
  /* every handle is closed: the loop has nothing left to run */
  for (int i = 0; i < 10 && uv_loop_alive(&loop); i++) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(!uv_loop_alive(&loop));
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (access(REDIS_BIN, X_OK) != 0) {
    printf("SKIP: %s not installed\n", REDIS_BIN);
    return 77;
  }
  uv_loop_init(&loop);
  srv_port = free_port();
  auth_port = free_port();
  while (auth_port == srv_port) auth_port = free_port();
  srv_pid = start_redis(srv_port, NULL);
  auth_pid = start_redis(auth_port, "s3cret");
  atexit(kill_servers);
  /* wait for the server: a connection that comes up */
  struct tconn w;
  struct sl_redis_opts o = base_opts(&w, srv_port);
  if (!open_up(&w, &o)) {
    printf("redis-server did not come up on port %d\n", srv_port);
    return 1;
  }
  close_conn(&w);

  static const struct check_case cases[] = {
      {"resp_codec", test_resp_codec},
      {"not_up", test_not_up},
      {"set_get", test_set_get},
      {"pipeline", test_pipeline},
      {"eval_noscript", test_eval_noscript},
      {"error_reply", test_error_reply},
      {"subscriber", test_subscriber},
      {"auth", test_auth},
      {"cancel", test_cancel},
      {"close_pending", test_close_pending},
      {"close_in_failure", test_close_in_failure},
      {"stop_cont", test_stop_cont},
      {"restart", test_restart},
      {"tls", test_tls},
      {"loop_freed", test_loop_freed},
  };
  int rc = check_run(cases, sizeof cases / sizeof cases[0]);
  kill_servers();
  uv_run(&loop, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop) != 0) {
    printf("FAIL: handles left on the loop\n");
    rc = 1;
  }
  return rc;
}
