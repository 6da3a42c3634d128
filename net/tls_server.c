/* TLS for the client-facing listener (see tls_server.h): mbedtls 2.28 as a TLS 1.2 server
 * over memory. The one idea: the connection never owns an input buffer. Ciphertext is
 * read by libuv into the server's shared read buffer and lent to mbedtls for the duration
 * of one read callback (sl_tls_sconn_feed); the HTTP server decrypts until mbedtls asks
 * for more, and mbedtls keeps any partial record in its own record buffer, so nothing
 * is left pointing into the shared buffer afterwards. Output accumulates in a per-
 * connection buffer that the HTTP server copies into its write request. */
#include "net/tls_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#define OUT_MIN 4096
#define OUT_MAX (8u << 20) /* bound on ciphertext produced by one write */

struct sl_tls_server {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt chain;
  mbedtls_pk_context key;
  mbedtls_ssl_ticket_context tickets; /* session resumption; the key is this worker's own */
  mbedtls_ssl_config conf;
};

struct sl_tls_sconn {
  mbedtls_ssl_context ssl;
  const unsigned char *in; /* lent by sl_tls_sconn_feed */
  size_t in_n;
  unsigned char *out;
  size_t out_n, out_cap;
  int handshaken;
};

static const char *alpn_list[] = {"http/1.1", NULL};

static void mbed_err(char *err, size_t errlen, const char *what, const char *file, int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  snprintf(err, errlen, "%s%s%s: %s (-0x%04x)", what, file ? " " : "", file ? file : "", buf,
           (unsigned)-rc);
}

int sl_tls_server_create(const char *cert_file, const char *key_file, struct sl_tls_server **out,
                         char *err, size_t errlen) {
  static const char pers[] = "sluice-server";
  *out = NULL;
  struct sl_tls_server *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  mbedtls_entropy_init(&t->entropy);
  mbedtls_ctr_drbg_init(&t->drbg);
  mbedtls_x509_crt_init(&t->chain);
  mbedtls_pk_init(&t->key);
  mbedtls_ssl_config_init(&t->conf);
  mbedtls_ssl_ticket_init(&t->tickets);
  int rc = -EINVAL;
  int mrc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                  (const unsigned char *)pers, sizeof pers - 1);
  if (mrc) {
    mbed_err(err, errlen, "cannot seed the TLS random generator", NULL, mrc);
    rc = -EIO;
    goto fail;
  }
  if (access(cert_file, R_OK) != 0 || access(key_file, R_OK) != 0) {
    rc = -errno;
    const char *f = access(cert_file, R_OK) != 0 ? cert_file : key_file;
    snprintf(err, errlen, "cannot read %s: %s", f, strerror(-rc));
    goto fail;
  }
  mrc = mbedtls_x509_crt_parse_file(&t->chain, cert_file);
  if (mrc != 0 || t->chain.version == 0) { /* > 0: some certificates did not parse */
    if (mrc < 0) mbed_err(err, errlen, "cannot parse the certificate file", cert_file, mrc);
    else snprintf(err, errlen, "cannot parse every certificate in %s", cert_file);
    goto fail;
  }
  mrc = mbedtls_pk_parse_keyfile(&t->key, key_file, NULL);
  if (mrc) {
    mbed_err(err, errlen, "cannot parse the private key file", key_file, mrc);
    goto fail;
  }
  mrc = mbedtls_pk_check_pair(&t->chain.pk, &t->key);
  if (mrc) {
    snprintf(err, errlen, "the private key in %s does not match the certificate in %s", key_file,
             cert_file);
    goto fail;
  }
  mrc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (!mrc) mrc = mbedtls_ssl_conf_own_cert(&t->conf, &t->chain, &t->key);
  if (!mrc) mrc = mbedtls_ssl_conf_alpn_protocols(&t->conf, alpn_list);
  if (!mrc)
    mrc = mbedtls_ssl_ticket_setup(&t->tickets, mbedtls_ctr_drbg_random, &t->drbg,
                                   MBEDTLS_CIPHER_AES_256_GCM, 86400);
  if (!mrc)
    mbedtls_ssl_conf_session_tickets_cb(&t->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
                                        &t->tickets);
  if (mrc) {
    mbed_err(err, errlen, "cannot set up the TLS configuration", NULL, mrc);
    goto fail;
  }
  mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
  mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE); /* no client certificates */
  *out = t;
  return 0;
fail:
  sl_tls_server_free(t);
  return rc;
}

void sl_tls_server_free(struct sl_tls_server *t) {
  if (!t) return;
  mbedtls_ssl_config_free(&t->conf);
  mbedtls_ssl_ticket_free(&t->tickets);
  mbedtls_pk_free(&t->key);
  mbedtls_x509_crt_free(&t->chain);
  mbedtls_ctr_drbg_free(&t->drbg);
  mbedtls_entropy_free(&t->entropy);
  free(t);
}

/* ---- memory I/O ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  struct sl_tls_sconn *c = ctx;
  if (len > c->out_cap - c->out_n) {
    size_t cap = c->out_cap ? c->out_cap : OUT_MIN;
    while (cap - c->out_n < len) cap *= 2;
    if (cap > OUT_MAX) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    unsigned char *p = realloc(c->out, cap);
    if (!p) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    c->out = p;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_n, buf, len);
  c->out_n += len;
  return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  struct sl_tls_sconn *c = ctx;
  if (c->in_n == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  if (len > c->in_n) len = c->in_n;
  memcpy(buf, c->in, len);
  c->in += len;
  c->in_n -= len;
  return (int)len;
}

struct sl_tls_sconn *sl_tls_sconn_new(struct sl_tls_server *t) {
  struct sl_tls_sconn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  mbedtls_ssl_init(&c->ssl);
  if (mbedtls_ssl_setup(&c->ssl, &t->conf)) {
    mbedtls_ssl_free(&c->ssl);
    free(c);
    return NULL;
  }
  mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
  return c;
}

void sl_tls_sconn_free(struct sl_tls_sconn *c) {
  if (!c) return;
  mbedtls_ssl_free(&c->ssl);
  free(c->out);
  free(c);
}

void sl_tls_sconn_feed(struct sl_tls_sconn *c, const char *p, size_t n) {
  c->in = (const unsigned char *)p;
  c->in_n = n;
}

int sl_tls_sconn_handshake(struct sl_tls_sconn *c, char *err, size_t errlen) {
  if (c->handshaken) return 0;
  int rc = mbedtls_ssl_handshake(&c->ssl);
  if (rc == 0) {
    c->handshaken = 1;
    return 0;
  }
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return -EAGAIN;
  mbed_err(err, errlen, "TLS handshake failed", NULL, rc);
  return -EPROTO;
}

int sl_tls_sconn_read(struct sl_tls_sconn *c, char *p, size_t n) {
  int rc = mbedtls_ssl_read(&c->ssl, (unsigned char *)p, n);
  if (rc > 0) return rc;
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return 0;
  if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return -EPIPE;
  return -EPROTO;
}

int sl_tls_sconn_write(struct sl_tls_sconn *c, const char *p, size_t n) {
  while (n) { /* bio_send never says WANT_WRITE, so each call takes a whole record */
    int rc = mbedtls_ssl_write(&c->ssl, (const unsigned char *)p, n);
    if (rc <= 0) return rc < 0 ? -EPROTO : -EIO;
    p += rc;
    n -= (size_t)rc;
  }
  return 0;
}

void sl_tls_sconn_close_notify(struct sl_tls_sconn *c) {
  (void)mbedtls_ssl_close_notify(&c->ssl);
}

size_t sl_tls_sconn_out(const struct sl_tls_sconn *c, const char **p) {
  *p = (const char *)c->out;
  return c->out_n;
}

void sl_tls_sconn_out_clear(struct sl_tls_sconn *c) { c->out_n = 0; }
