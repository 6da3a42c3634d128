/* Internal to net/: one client TLS connection driven over memory buffers instead of a
 * socket, so that libuv keeps owning the socket. Ciphertext read by libuv is committed
 * into the connection's input buffer (the libuv read lands there directly, no copy);
 * mbedtls pulls records from it through a custom recv callback and pushes ciphertext
 * through a custom send callback into a double-buffered output queue: one buffer may
 * be in flight in uv_write while the other fills. Nothing here blocks or touches
 * sockets. The shared per-worker context (struct sl_tls_ctx) is declared in upstream.h. */
#ifndef SL_NET_TLS_CONN_H
#define SL_NET_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "net/upstream.h"

struct sl_tls_conn;
struct sl_tls_session; /* a session saved for resumption (one per pool) */

/* sl_tls_ctx is reference counted: sl_tls_ctx_create gives the owner one reference,
 * pools and connections take their own, and sl_tls_ctx_free drops one. So the owner
 * may free it while pools are still closing. */
void sl_tls_ctx_ref(struct sl_tls_ctx *t);

/* host: SNI and the name the certificate must match. resume: may be NULL. */
int sl_tls_conn_new(struct sl_tls_ctx *t, const char *host, const struct sl_tls_session *resume,
                    struct sl_tls_conn **out, char *err, size_t errlen);
void sl_tls_conn_free(struct sl_tls_conn *c);

/* Free space for incoming ciphertext (for a libuv alloc_cb), then commit what arrived. */
uv_buf_t sl_tls_conn_rspace(struct sl_tls_conn *c);
void sl_tls_conn_rcommit(struct sl_tls_conn *c, size_t n);
/* Unconsumed input: ciphertext not yet decrypted or plaintext not yet read. */
bool sl_tls_conn_has_input(struct sl_tls_conn *c);

/* Advances the handshake: 0 done, -EAGAIN needs more input, other <0 failed (err says
 * why; certificate problems are spelled out from mbedtls_x509_crt_verify_info). */
int sl_tls_conn_handshake(struct sl_tls_conn *c, char *err, size_t errlen);
/* Decrypts into p: >0 bytes, 0 needs more input, -EPIPE the peer closed the session
 * (close_notify), other <0 failed. */
int sl_tls_conn_read(struct sl_tls_conn *c, char *p, size_t n, char *err, size_t errlen);
/* Encrypts up to n bytes into the output queue; returns the bytes taken or <0. */
int sl_tls_conn_write(struct sl_tls_conn *c, const char *p, size_t n, char *err, size_t errlen);
/* Queues a close_notify alert. */
void sl_tls_conn_close_notify(struct sl_tls_conn *c);

/* Ciphertext queued and not yet taken. */
size_t sl_tls_conn_out_pending(const struct sl_tls_conn *c);
/* Takes the queued ciphertext for writing: 0 with *b filled, or -EAGAIN when nothing is
 * queued or a taken buffer has not been released yet. */
int sl_tls_conn_out_take(struct sl_tls_conn *c, uv_buf_t *b);
/* The taken buffer was written (or dropped): it can be reused. */
void sl_tls_conn_out_release(struct sl_tls_conn *c);

/* Saves the connection's session into *s (allocated on first use) for resumption. */
void sl_tls_session_save(struct sl_tls_conn *c, struct sl_tls_session **s);
void sl_tls_session_free(struct sl_tls_session *s);

#endif
