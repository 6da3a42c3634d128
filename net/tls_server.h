/* TLS for the client-facing listener, on mbedtls 2.28 (TLS 1.2). One sl_tls_server per
 * worker holds what is expensive and shared (entropy, CTR-DRBG, the certificate chain and
 * key, the ssl_config); each connection gets an sl_tls_sconn driven over memory: the HTTP
 * server hands it the ciphertext libuv just read (the shared read buffer, no copy) with
 * sl_tls_sconn_feed, then advances the handshake or decrypts until the input is used up,
 * and collects the ciphertext produced by handshakes and writes with sl_tls_sconn_out.
 * The socket stays libuv's; nothing here blocks. (The upstream client's net/tls.c works
 * the same way from the client side.) */
#ifndef SL_NET_TLS_SERVER_H
#define SL_NET_TLS_SERVER_H

#include <stddef.h>

struct sl_tls_server;
struct sl_tls_sconn;

/* Loads the PEM certificate chain (leaf first) and the private key, and checks that
 * they belong together. err names the file at fault. */
int sl_tls_server_create(const char *cert_file, const char *key_file, struct sl_tls_server **out,
                         char *err, size_t errlen);
/* Must outlive every connection made from it. */
void sl_tls_server_free(struct sl_tls_server *t);

struct sl_tls_sconn *sl_tls_sconn_new(struct sl_tls_server *t);
void sl_tls_sconn_free(struct sl_tls_sconn *c);

/* Ciphertext that arrived; it must stay valid until the calls below have returned 0 or
 * -EAGAIN (they consume all of it before asking for more: mbedtls keeps partial records). */
void sl_tls_sconn_feed(struct sl_tls_sconn *c, const char *p, size_t n);
/* 0 done (also when already done), -EAGAIN needs more input, other <0 failed. */
int sl_tls_sconn_handshake(struct sl_tls_sconn *c, char *err, size_t errlen);
/* Decrypts into p: >0 bytes, 0 needs more input, -EPIPE the peer closed, other <0 failed. */
int sl_tls_sconn_read(struct sl_tls_sconn *c, char *p, size_t n);
/* Encrypts all n bytes into the output (several records if needed): 0 or <0. */
int sl_tls_sconn_write(struct sl_tls_sconn *c, const char *p, size_t n);
/* Queues a close_notify alert. */
void sl_tls_sconn_close_notify(struct sl_tls_sconn *c);
/* The ciphertext produced so far; sl_tls_sconn_out_clear once it has been copied. */
size_t sl_tls_sconn_out(const struct sl_tls_sconn *c, const char **p);
void sl_tls_sconn_out_clear(struct sl_tls_sconn *c);

#endif
