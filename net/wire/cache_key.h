/* Cache keys and per-request cache controls. The one idea: a key is SHA-256 over the
 * model group, the namespace, the endpoint and a canonical form of the request body in
 * which two bodies have the same bytes exactly when they mean the same request, and
 * every field that could change the answer is present, unknown ones included.
 *
 * Canonical form (a strict JSON parser over the raw body bytes, not cJSON's tree, so no
 * number loses digits):
 *  - objects: members sorted by the bytes of their decoded names (memcmp, shorter
 *    first on a tie; duplicates keep their order), no whitespace anywhere;
 *  - strings: escapes decoded (so "\u00e9" and "é" are the same), then written with
 *    only ", \ and control characters escaped (\b \f \n \r \t, else \u00xx); other
 *    bytes as they are (a lone surrogate escape becomes its 3-byte WTF-8 form);
 *  - numbers: by exact decimal value, never through a double: digits without leading
 *    or trailing zeros and a decimal exponent, written D or De<exp> ("1", "1.0",
 *    "1e0" and "10e-1" are all "1"; "0.5" is "5e-1"; -0 is "0"). So 1 and 1.0 give one
 *    key (they are the same JSON number to every provider), while two 20-digit seeds
 *    that a double cannot tell apart still give two keys;
 *  - true, false, null as themselves.
 * Top-level fields left out: model (the model group is hashed instead, so aliases of
 * one group share entries), stream, stream_options, user, metadata, the cache
 * controls cache and caching, and sluice's own request options (sluice: routing and
 * region choices, which decide who answers, never what is asked). Everything else is in.
 *
 * Key = SHA-256("sluice-cache-key-v1\n" || len64(group) || group || len64(namespace)
 * || namespace || len64(endpoint) || endpoint || canonical body), len64 big-endian.
 * A scoped key (one tenant's entries, see sl_cache_key_scoped) starts with
 * "sluice-cache-key-v1-scoped\n" || len64(scope) || scope instead of the first string,
 * so no scope, and no namespace a client picks, can reach another scope's entries. */
#ifndef SL_CORE_CACHE_KEY_H
#define SL_CORE_CACHE_KEY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"
#include "net/wire/http_common.h"

#define SL_CACHE_KEY_BYTES 32
#define SL_CACHE_KEY_MAX_DEPTH 64

/* The key of a request. group: the resolved model group; ns: the cache namespace (""
 * when none); endpoint: which API, e.g. "chat/completions" (a completion and an
 * embedding must never share a key); body/len: the raw JSON body as the client sent
 * it. 0, or -EINVAL when the body is not a JSON object, is malformed or nests deeper
 * than SL_CACHE_KEY_MAX_DEPTH (such a request is simply not cached), -ENOMEM. */
int sl_cache_key(const char *group, const char *ns, const char *endpoint, const char *body, size_t len,
                 uint8_t out[SL_CACHE_KEY_BYTES]);

/* The same key inside a scope (e.g. "key:<hash hex>": one tenant); NULL or "" scope
 * gives exactly sl_cache_key. */
int sl_cache_key_scoped(const char *scope, const char *group, const char *ns, const char *endpoint, const char *body,
                        size_t len, uint8_t out[SL_CACHE_KEY_BYTES]);

/* The canonical body alone (appended to out), for tests, fuzzing and debugging. */
int sl_cache_key_canonical(const char *body, size_t len, struct sl_buf *out);

/* Lowercase hex of a key into hex[65], for logs and headers. */
void sl_cache_key_hex(const uint8_t key[SL_CACHE_KEY_BYTES], char hex[65]);

/* Per-request cache controls, gathered from the body then the headers. */
struct sl_cache_control {
  bool no_cache;         /* do not look up; store the fresh answer */
  bool no_store;         /* do not look up and do not store */
  int64_t ttl_s;         /* store for this long (at most the configured ttl, see
                          * sl_cache_control_ttl); -1 = the configured ttl; 0 = do not store */
  int64_t max_age_s;     /* serve only entries at most this old; -1 = any */
  const char *namespace_; /* per-request namespace (points into the body tree); NULL = configured */
};

void sl_cache_control_init(struct sl_cache_control *cc);
/* LiteLLM's body field: "cache": {"no-cache": bool, "no-store": bool, "ttl": N,
 * "s-maxage": N, "namespace": "..."}. s-maxage limits the age of a served entry.
 * Returns 0, or -EINVAL when the field is present but malformed (the valid parts are
 * still applied; the caller may ignore the error or refuse the request). */
int sl_cache_control_from_body(const cJSON *body, struct sl_cache_control *cc);
/* Headers: x-sluice-cache: no-cache | no-store (comma list); x-sluice-cache-ttl: N;
 * Cache-Control: no-cache | no-store | max-age=N | s-maxage=N. max-age=N both limits
 * the age of a served entry and, when no ttl was given, stores the answer for N
 * seconds; max-age=0 means no-cache. Applied after the body, so headers win. Same
 * return convention. */
int sl_cache_control_from_headers(const struct sl_header *h, size_t n, struct sl_cache_control *cc);
/* The ttl to store with: the request's, never above the configured one (a tenant must not
 * pin entries longer than the operator allows); the configured one when none was asked. */
int64_t sl_cache_control_ttl(const struct sl_cache_control *cc, int64_t configured_s);

#endif
