/* The provider adapter table: everything sluice knows about each upstream provider, in one
 * place. Per provider: its name (and the LiteLLM names that mean the same), the default
 * api_base, the environment variables LiteLLM reads its key from, the wire format it speaks,
 * how its upstream path is built per route (Azure: /openai/deployments/<model>...?api-version=),
 * how the key is sent (Authorization: Bearer / x-api-key / api-key) and any extra headers
 * (anthropic-version).
 * The one idea: the config compiles each deployment against its row once, at load; the
 * request path then uses the precomputed paths and header lines and never compares a
 * provider name. To add a provider: one row in the table in provider.c (and, for a new path
 * or auth scheme, one enum value and one case). Pure: no I/O, no libuv. */
#ifndef SL_NET_WIRE_PROVIDER_H
#define SL_NET_WIRE_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include "net/wire/xlate.h" /* enum sl_wire */

/* The routes that reach a provider. */
enum sl_prov_route {
  SL_PROV_CHAT = 0,    /* /chat/completions */
  SL_PROV_COMPLETIONS, /* /completions */
  SL_PROV_EMBEDDINGS,  /* /embeddings */
  SL_PROV_MESSAGES,    /* /messages (Anthropic's; an OpenAI-wire provider gets chat) */
  SL_PROV_RESPONSES,   /* /responses (served natively; others get chat or messages, translated) */
  SL_PROV_COUNT_TOKENS, /* /messages/count_tokens (Anthropic only) */
  SL_PROV_MODERATIONS, /* /moderations */
  SL_PROV_RERANK,      /* /rerank */
  SL_PROV_IMAGES,      /* /images/generations */
  SL_PROV_SPEECH,      /* /audio/speech */
  SL_PROV_TRANSCRIPTIONS, /* /audio/transcriptions (multipart) */
  SL_PROV_ROUTES,
};

enum sl_prov_path {
  SL_PATH_DIALECT,   /* built per attempt by the deployment's dialect (Bedrock, Vertex AI):
                        sl_provider_path answers -1 for every route */
  SL_PATH_OPENAI,    /* api_base + endpoint */
  SL_PATH_AZURE,     /* api_base + /openai/deployments/<model> + endpoint + ?api-version= */
  SL_PATH_ANTHROPIC, /* api_base + /v1/messages (chat, messages, responses translated) and
                        /v1/messages/count_tokens */
};

enum sl_prov_auth {
  SL_AUTH_BEARER,    /* Authorization: Bearer <key> */
  SL_AUTH_X_API_KEY, /* x-api-key: <key> */
  SL_AUTH_API_KEY,   /* api-key: <key> */
};

/* How a deployment's provider differs from the plain OpenAI/Anthropic exchange, beyond a
 * path and a header: the request body is rewritten, the answer (and its stream framing)
 * read back, and the request signed or given a fetched token (core/dialect.c). Chosen per
 * deployment at load from the provider and the model (core/config/config_cloud.c). */
enum sl_dialect {
  SL_DIALECT_NONE = 0,
  SL_DIALECT_BEDROCK_CONVERSE,         /* Anthropic wire <-> Converse / ConverseStream */
  SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC, /* Anthropic wire: invoke / invoke-with-response-stream */
  SL_DIALECT_BEDROCK_EMBED_TITAN,      /* OpenAI embeddings <-> Titan text embeddings (invoke) */
  SL_DIALECT_BEDROCK_EMBED_COHERE,     /* OpenAI embeddings <-> Cohere embed (invoke) */
  SL_DIALECT_VERTEX_OPENAI,            /* Vertex AI's OpenAI-compatible endpoint (Gemini, ...) */
  SL_DIALECT_VERTEX_ANTHROPIC,         /* Claude on Vertex AI: rawPredict / streamRawPredict */
};

struct sl_prov_header {
  const char *name, *value;
};

struct sl_provider {
  const char *name;
  const char *const *aliases;     /* other LiteLLM prefixes for this row; NULL-terminated or NULL */
  const char *default_base;       /* NULL: api_base is required */
  const char *key_env[2];         /* LiteLLM's api_key fallbacks from the environment */
  bool key_env_default_base_only; /* use key_env only with default_base: openai/ with an
                                     api_base is how any OpenAI-compatible server is named,
                                     and OPENAI_API_KEY must not go to all of them */
  bool key_optional;              /* local servers that usually take no key: no warning */
  enum sl_wire wire;
  enum sl_prov_path path;
  enum sl_prov_auth auth;
  const char *default_api_version;    /* SL_PATH_AZURE's api-version when none is configured */
  const struct sl_prov_header *extra; /* sent on every request; {NULL} ends; may be NULL */
  bool responses;                     /* serves /responses natively (else it is translated);
                                         model_info.responses_api overrides per deployment */
};

/* The row for a LiteLLM provider prefix ("openai", "anthropic", "azure", ...), or NULL. */
const struct sl_provider *sl_provider_find(const char *name);
/* Whether name is a provider LiteLLM knows and sluice does not speak to yet (for errors). */
bool sl_provider_litellm_only(const char *name);
/* "openai, anthropic, ..." (every row's name, table order) written like snprintf. */
int sl_provider_names(char *out, size_t cap);
/* Every row, for listings (n set to the count). */
const struct sl_provider *sl_provider_all(size_t *n);

/* The route's endpoint as OpenAI names it ("/chat/completions", ...). */
const char *sl_provider_endpoint(enum sl_prov_route r);

/* The upstream path (with query) for a request on route r, written to out like snprintf:
 * returns the length it needs (not counting the NUL), or -1 when the provider has no such
 * route (Anthropic's embeddings). base_path is api_base's path without a trailing '/';
 * api_version NULL takes the provider's default. endpoint overrides the route's endpoint
 * for SL_PATH_OPENAI/AZURE when not NULL (other OpenAI paths passed through). */
int sl_provider_path(const struct sl_provider *p, enum sl_prov_route r, const char *endpoint, const char *base_path,
                     const char *model, const char *api_version, char *out, size_t cap);

/* The path (no query) of a request on route r to a dialect deployment (Bedrock: /model/<id,
 * percent-encoded>/converse[-stream] | invoke[-with-response-stream]; Vertex AI:
 * /v1/projects/<p>/locations/<l>/publishers/anthropic/models/<m>:[stream]rawPredict or
 * .../endpoints/openapi/chat/completions), written like snprintf; -1 when the dialect has no
 * such route. stream: the streaming variant. */
int sl_provider_dialect_path(enum sl_dialect d, enum sl_prov_route r, bool stream, const char *base_path,
                             const char *model, const char *project, const char *location, char *out, size_t cap);

/* The credential header's name ("Authorization", "x-api-key", "api-key"), and its value for
 * key written like snprintf ("Bearer <key>" or the key); returns the length needed. */
const char *sl_provider_auth_name(const struct sl_provider *p);
int sl_provider_auth_value(const struct sl_provider *p, const char *key, char *out, size_t cap);

#endif
