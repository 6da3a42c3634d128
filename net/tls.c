/* TLS for the upstream client, on mbedtls 2.28. One sl_tls_ctx per worker holds what
 * is expensive and shareable (entropy, CTR-DRBG, the parsed CA chain, the ssl_config);
 * each connection gets an mbedtls_ssl_context whose I/O goes through memory buffers
 * (see tls_conn.h), so the handshake and records are driven by libuv reads and writes
 * without ever blocking. Verification is always required: the peer must chain to the
 * configured CAs and match the host name; failures are reported with mbedtls's own
 * explanation of what was wrong with the certificate. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "net/tls_conn.h"
#include "net/upstream.h"

#define SL_TLS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
#define SL_TLS_IN_BUF (16384 + 1024) /* one read; mbedtls assembles records itself */
#define SL_TLS_OUT_MIN 4096
#define SL_TLS_OUT_MAX (4u << 20) /* bound on queued ciphertext; callers batch far below */

struct sl_tls_ctx {
  unsigned refs; /* the owner's, plus one per pool and per connection using it */
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_ssl_config conf;
};

struct sl_tls_obuf {
  unsigned char *p;
  size_t len, cap;
};

struct sl_tls_conn {
  struct sl_tls_ctx *ctx;
  size_t iplen; /* host is an IP literal: its bytes, matched against iPAddress SANs */
  unsigned char ip[16];
  mbedtls_ssl_context ssl;
  struct sl_tls_obuf out[2];
  int fill;   /* index of the buffer mbedtls appends to */
  int flight; /* index handed to uv_write, -1 when none */
  size_t in_off, in_len;
  unsigned char in[SL_TLS_IN_BUF];
};

struct sl_tls_session {
  mbedtls_ssl_session s;
};

static const char *alpn_list[] = {"http/1.1", NULL};

static void mbed_err(char *err, size_t errlen, const char *what, int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  snprintf(err, errlen, "%s: %s (-0x%04x)", what, buf, (unsigned)-rc);
}

int sl_tls_ctx_create(const char *ca_file, struct sl_tls_ctx **out, char *err, size_t errlen) {
  static const char pers[] = "sluice-upstream";
  const char *path = ca_file;
  if (!path) {
    const char *env = getenv("SSL_CERT_FILE");
    path = env && *env ? env : SL_TLS_SYSTEM_CA;
  }
  *out = NULL;
  struct sl_tls_ctx *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  t->refs = 1;
  mbedtls_entropy_init(&t->entropy);
  mbedtls_ctr_drbg_init(&t->drbg);
  mbedtls_x509_crt_init(&t->ca);
  mbedtls_ssl_config_init(&t->conf);

  int rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                 (const unsigned char *)pers, sizeof pers - 1);
  if (rc) {
    mbed_err(err, errlen, "cannot seed the TLS random generator", rc);
    sl_tls_ctx_free(t);
    return -EIO;
  }
  if (access(path, R_OK) != 0) {
    int e = errno;
    snprintf(err, errlen, "cannot read CA file %s: %s", path, strerror(e));
    sl_tls_ctx_free(t);
    return -e;
  }
  rc = mbedtls_x509_crt_parse_file(&t->ca, path);
  if (rc < 0 || t->ca.version == 0) { /* rc > 0: some certificates were skipped */
    if (rc < 0)
      mbed_err(err, errlen, "cannot parse CA file", rc);
    else
      snprintf(err, errlen, "no usable certificate in CA file %s", path);
    sl_tls_ctx_free(t);
    return -EINVAL;
  }
  rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                   MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc) {
    mbed_err(err, errlen, "cannot set up the TLS configuration", rc);
    sl_tls_ctx_free(t);
    return -EINVAL;
  }
  mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
  mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
  mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_alpn_protocols(&t->conf, alpn_list);
  *out = t;
  return 0;
}

void sl_tls_ctx_ref(struct sl_tls_ctx *t) {
  t->refs++;
}

void sl_tls_ctx_free(struct sl_tls_ctx *t) {
  if (!t || --t->refs > 0) return;
  mbedtls_ssl_config_free(&t->conf);
  mbedtls_x509_crt_free(&t->ca);
  mbedtls_ctr_drbg_free(&t->drbg);
  mbedtls_entropy_free(&t->entropy);
  free(t);
}

/* ---- memory BIO ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  struct sl_tls_conn *c = ctx;
  struct sl_tls_obuf *o = &c->out[c->fill];
  if (len > o->cap - o->len) {
    size_t cap = o->cap ? o->cap : SL_TLS_OUT_MIN;
    while (cap - o->len < len) cap *= 2;
    if (cap > SL_TLS_OUT_MAX) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    unsigned char *p = realloc(o->p, cap);
    if (!p) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    o->p = p;
    o->cap = cap;
  }
  memcpy(o->p + o->len, buf, len);
  o->len += len;
  return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  struct sl_tls_conn *c = ctx;
  size_t avail = c->in_len - c->in_off;
  if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  if (len > avail) len = avail;
  memcpy(buf, c->in + c->in_off, len);
  c->in_off += len;
  if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
  return (int)len;
}

/* mbedtls 2.28 matches only dNSName SANs. For an IP literal host we set no host name
 * (so no SNI, which must not carry an address) and check the iPAddress SANs here; the
 * chain itself is still verified by mbedtls. */
static int verify_ip(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  const struct sl_tls_conn *c = ctx;
  if (depth != 0) return 0;
  for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s; s = s->next) {
    if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && s->buf.len == c->iplen &&
        memcmp(s->buf.p, c->ip, c->iplen) == 0) {
      *flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
      return 0;
    }
  }
  *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  return 0;
}

int sl_tls_conn_new(struct sl_tls_ctx *t, const char *host, const struct sl_tls_session *resume,
                    struct sl_tls_conn **out, char *err, size_t errlen) {
  *out = NULL;
  struct sl_tls_conn *c = malloc(sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  memset(c, 0, offsetof(struct sl_tls_conn, in));
  c->flight = -1;
  c->ctx = t;
  sl_tls_ctx_ref(t);
  mbedtls_ssl_init(&c->ssl);
  if (inet_pton(AF_INET, host, c->ip) == 1)
    c->iplen = 4;
  else if (inet_pton(AF_INET6, host, c->ip) == 1)
    c->iplen = 16;
  int rc = mbedtls_ssl_setup(&c->ssl, &t->conf);
  if (!rc && c->iplen)
    mbedtls_ssl_set_verify(&c->ssl, verify_ip, c);
  else if (!rc)
    rc = mbedtls_ssl_set_hostname(&c->ssl, host);
  if (rc) {
    mbed_err(err, errlen, "cannot set up TLS", rc);
    sl_tls_conn_free(c);
    return -ENOMEM;
  }
  mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
  if (resume) mbedtls_ssl_set_session(&c->ssl, &resume->s); /* best effort */
  *out = c;
  return 0;
}

void sl_tls_conn_free(struct sl_tls_conn *c) {
  if (!c) return;
  mbedtls_ssl_free(&c->ssl);
  free(c->out[0].p);
  free(c->out[1].p);
  sl_tls_ctx_free(c->ctx);
  free(c);
}

uv_buf_t sl_tls_conn_rspace(struct sl_tls_conn *c) {
  if (c->in_off) { /* only when a reader stopped mid-buffer; normally in_off == in_len == 0 */
    memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
    c->in_len -= c->in_off;
    c->in_off = 0;
  }
  return uv_buf_init((char *)c->in + c->in_len, (unsigned)(sizeof c->in - c->in_len));
}

void sl_tls_conn_rcommit(struct sl_tls_conn *c, size_t n) {
  c->in_len += n;
}

bool sl_tls_conn_has_input(struct sl_tls_conn *c) {
  return c->in_len > c->in_off || mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 ||
         mbedtls_ssl_check_pending(&c->ssl);
}

int sl_tls_conn_handshake(struct sl_tls_conn *c, char *err, size_t errlen) {
  int rc = mbedtls_ssl_handshake(&c->ssl);
  if (rc == 0) return 0;
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return -EAGAIN;
  uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
  if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != (uint32_t)-1) {
    char info[512];
    int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    /* one line per problem, each ending in '\n': join them with "; " */
    for (int i = 0; i < n; i++)
      if (info[i] == '\n') info[i] = (i == n - 1) ? '\0' : ';';
    char ipstr[INET6_ADDRSTRLEN] = "?";
    if (c->iplen) inet_ntop(c->iplen == 4 ? AF_INET : AF_INET6, c->ip, ipstr, sizeof ipstr);
    snprintf(err, errlen, "certificate verification failed for %s: %s",
             c->ssl.hostname ? c->ssl.hostname : ipstr, n > 0 ? info : "unknown reason");
  } else {
    mbed_err(err, errlen, "TLS handshake failed", rc);
  }
  return -EPROTO;
}

int sl_tls_conn_read(struct sl_tls_conn *c, char *p, size_t n, char *err, size_t errlen) {
  int rc = mbedtls_ssl_read(&c->ssl, (unsigned char *)p, n);
  if (rc > 0) return rc;
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return 0;
  if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return -EPIPE;
  mbed_err(err, errlen, "TLS read failed", rc);
  return -EPROTO;
}

int sl_tls_conn_write(struct sl_tls_conn *c, const char *p, size_t n, char *err, size_t errlen) {
  int rc = mbedtls_ssl_write(&c->ssl, (const unsigned char *)p, n);
  if (rc >= 0) return rc;
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return 0;
  mbed_err(err, errlen, "TLS write failed", rc);
  return -EPROTO;
}

void sl_tls_conn_close_notify(struct sl_tls_conn *c) {
  (void)mbedtls_ssl_close_notify(&c->ssl);
}

size_t sl_tls_conn_out_pending(const struct sl_tls_conn *c) {
  return c->out[c->fill].len;
}

int sl_tls_conn_out_take(struct sl_tls_conn *c, uv_buf_t *b) {
  if (c->flight >= 0 || c->out[c->fill].len == 0) return -EAGAIN;
  *b = uv_buf_init((char *)c->out[c->fill].p, (unsigned)c->out[c->fill].len);
  c->flight = c->fill;
  c->fill ^= 1;
  return 0;
}

void sl_tls_conn_out_release(struct sl_tls_conn *c) {
  if (c->flight < 0) return;
  c->out[c->flight].len = 0;
  c->flight = -1;
}

void sl_tls_session_save(struct sl_tls_conn *c, struct sl_tls_session **s) {
  if (!*s) {
    *s = malloc(sizeof **s);
    if (!*s) return;
  } else {
    mbedtls_ssl_session_free(&(*s)->s);
  }
  mbedtls_ssl_session_init(&(*s)->s);
  if (mbedtls_ssl_get_session(&c->ssl, &(*s)->s) != 0) {
    sl_tls_session_free(*s);
    *s = NULL;
  }
}

void sl_tls_session_free(struct sl_tls_session *s) {
  if (!s) return;
  mbedtls_ssl_session_free(&s->s);
  free(s);
}
