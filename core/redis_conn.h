/* One connection to Redis on a worker's libuv loop: plain TCP or TLS (mbedtls, verified
 * against the system CA store, as upstream connections), AUTH (ACL user or password) and
 * SELECT on every (re)connect, commands pipelined (many in flight, replies matched in
 * order), each with its own reply timeout, and reconnection with exponential back-off
 * (50 ms doubling to 2 s, jittered) forever: never "probe once at boot".
 *
 * Two kinds: a command connection (sl_redis_cmd / sl_redis_eval) and a subscriber
 * connection (channels given at open, re-subscribed on every reconnect; messages go to
 * on_message; sl_redis_cmd / sl_redis_eval on it return 0). An idle connection is checked
 * with a PING every second, so a server that stops answering is noticed without traffic.
 * Commands are encoded and replies decoded by hiredis's RESP codec
 * (store/redis_resp.h); the transport is sluice's own, so TLS works.
 *
 * Callbacks: every accepted command gets exactly one callback: its reply, or NULL with a
 * reason (timeout, connection lost, closed). A caller that goes away first cancels its
 * ticket; its callback is then never called. Extend: a new command is just argv. */
#ifndef SL_CORE_REDIS_CONN_H
#define SL_CORE_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <hiredis/read.h> /* redisReply comes from hiredis.h; see store/redis_resp.h */

struct redisReply;
struct sl_redis;

/* reply: the decoded reply (freed after the callback returns: copy what you keep); NULL
 * on failure, then err says why ("timeout", "connection lost", "closed", "not connected",
 * or the server's error text for a -ERR reply is NOT a failure: it arrives as a reply
 * of type REDIS_REPLY_ERROR). */
typedef void (*sl_redis_cb)(void *ud, const struct redisReply *reply, const char *err);

struct sl_redis_opts {
  const char *host;
  int port;
  const char *username; /* NULL: AUTH password only */
  const char *password; /* NULL: no AUTH */
  int db;               /* SELECT when > 0 */
  bool tls;
  const char *ca_file;         /* NULL: the system CA store */
  const char *tls_server_name; /* NULL: host */
  uint64_t timeout_ms;         /* per command; 0: 1000 */
  uint64_t connect_timeout_ms; /* 0: 1000 */
  const char *name;            /* CLIENT SETNAME (e.g. "sluice:<instance>:w0"); NULL: none */
  /* subscriber connection: channels to SUBSCRIBE (NULL-terminated), messages to on_message */
  const char *const *channels;
  void (*on_message)(void *ud, const char *channel, size_t channel_len, const char *msg, size_t msg_len);
  /* up: true after connect + AUTH + SELECT (+ SUBSCRIBE) succeeded; false when lost. Called on
   * every change, never twice with the same value. */
  void (*on_state)(void *ud, bool up);
  void *ud;
};

/* Starts connecting (returns at once; on_state(true) when ready). 0 or -errno. */
int sl_redis_open(uv_loop_t *loop, const struct sl_redis_opts *o, struct sl_redis **out);
/* Fails every pending command ("closed", callbacks called unless cancelled), closes the
 * socket and frees everything once libuv has closed its handles. */
void sl_redis_close(struct sl_redis *r);
bool sl_redis_up(const struct sl_redis *r);
/* Commands waiting for replies. */
size_t sl_redis_pending(const struct sl_redis *r);

/* Sends one command (argv with explicit lengths: binary safe). Returns a ticket (> 0), or 0
 * when the connection is not up (the callback is NOT called: decide degraded at once). */
uint64_t sl_redis_cmd(struct sl_redis *r, sl_redis_cb cb, void *ud, int argc, const char *const *argv,
                      const size_t *lens);
/* The callback of ticket t will not be called (its reply is read and dropped). */
void sl_redis_cancel(struct sl_redis *r, uint64_t t);
/* Commands are written once per loop iteration (from a uv_prepare, before the loop waits);
 * this writes what is queued now. For a caller that is itself a uv_prepare callback (its
 * commands would otherwise wait for the next iteration) and runs at loop level (a broken
 * connection fails the queued callbacks from here). */
void sl_redis_flush(struct sl_redis *r);

/* A Lua script, loaded by SHA: EVALSHA, and on NOSCRIPT (a restarted or flushed server)
 * SCRIPT LOAD + EVALSHA again, transparently, in the same callback. */
struct sl_redis_script {
  const char *name;   /* for logs */
  const char *source; /* Lua; the struct and source must outlive the commands using them */
  char sha1[41];      /* filled by sl_redis_script_init */
};
void sl_redis_script_init(struct sl_redis_script *s, const char *name, const char *source);
/* EVALSHA sha nkeys keys... args...: argv holds the keys then the args (nkeys + nargs). */
uint64_t sl_redis_eval(struct sl_redis *r, struct sl_redis_script *s, sl_redis_cb cb, void *ud, int nkeys, int nargs,
                       const char *const *argv, const size_t *lens);

#endif
