/* The provider adapter table and its path and auth builders; see provider.h. The one idea:
 * a provider is a row of data; the few ways providers differ (path shape, credential
 * header) are enums with one case each here. To add a provider: a row in `providers`. */
#include "net/wire/provider.h"

#include <stdio.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct sl_prov_header anthropic_headers[] = {{"anthropic-version", SL_XLATE_ANTHROPIC_VERSION},
                                                          {NULL, NULL}};

static const char *const openai_aliases[] = {"text-completion-openai", NULL};
static const char *const ollama_aliases[] = {"ollama_chat", NULL};
static const char *const vertex_aliases[] = {"vertex_ai_beta", NULL};

#define OAI SL_WIRE_OPENAI, SL_PATH_OPENAI, SL_AUTH_BEARER, NULL, NULL, false
#define OAI_RESPONSES SL_WIRE_OPENAI, SL_PATH_OPENAI, SL_AUTH_BEARER, NULL, NULL, true

/* Each row: name, aliases, default api_base, key env vars, key_env_default_base_only,
 * key_optional, then wire / path / auth / api-version / extra headers / native Responses
 * API (OAI: the OpenAI format, paths and Bearer auth; OAI_RESPONSES: and /responses).
 * All speak the OpenAI wire format (through their OpenAI-compatible endpoints) except
 * anthropic (the Messages API) and azure (OpenAI's format on Azure's paths). Rows are in the
 * order the "supported:" error message lists them. */
static const struct sl_provider providers[] = {
    {"openai", openai_aliases, "https://api.openai.com/v1", {"OPENAI_API_KEY"}, true, false, OAI_RESPONSES},
    {.name = "anthropic",
     .default_base = "https://api.anthropic.com",
     .key_env = {"ANTHROPIC_API_KEY"},
     .wire = SL_WIRE_ANTHROPIC,
     .path = SL_PATH_ANTHROPIC,
     .auth = SL_AUTH_X_API_KEY,
     .extra = anthropic_headers},
    {.name = "azure", /* api_base required: https://<resource>.openai.azure.com */
     .key_env = {"AZURE_API_KEY", "AZURE_OPENAI_API_KEY"},
     .wire = SL_WIRE_OPENAI,
     .path = SL_PATH_AZURE,
     .auth = SL_AUTH_API_KEY,
     .default_api_version = "2024-10-21",
     .responses = true},
    {.name = "bedrock", /* api_base from aws_region_name (core/config/config_cloud.c) */
     .key_optional = true, /* SigV4 credentials, or a Bedrock API key: config_cloud.c warns */
     .wire = SL_WIRE_OPENAI, /* per model: core/config/config_cloud.c sets the dialect */
     .path = SL_PATH_DIALECT,
     .auth = SL_AUTH_BEARER},
    {.name = "vertex_ai", /* api_base from vertex_location */
     .aliases = vertex_aliases,
     .key_optional = true, /* a service account's tokens (core/gcp_token.c) */
     .wire = SL_WIRE_OPENAI,
     .path = SL_PATH_DIALECT,
     .auth = SL_AUTH_BEARER},
    {"gemini", NULL, "https://generativelanguage.googleapis.com/v1beta/openai", {"GEMINI_API_KEY"}, false, false, OAI},
    {"hosted_vllm", NULL, NULL, {"HOSTED_VLLM_API_KEY"}, false, true, OAI},
    {"openrouter", NULL, "https://openrouter.ai/api/v1", {"OPENROUTER_API_KEY", "OR_API_KEY"}, false, false, OAI},
    {"ollama", ollama_aliases, "http://localhost:11434/v1", {NULL}, false, false, OAI},
    {"groq", NULL, "https://api.groq.com/openai/v1", {"GROQ_API_KEY"}, false, false, OAI},
    {"deepseek", NULL, "https://api.deepseek.com/v1", {"DEEPSEEK_API_KEY"}, false, false, OAI},
    {"mistral", NULL, "https://api.mistral.ai/v1", {"MISTRAL_API_KEY"}, false, false, OAI},
    {"together_ai", NULL, "https://api.together.xyz/v1", {"TOGETHERAI_API_KEY", "TOGETHER_API_KEY"}, false, false, OAI},
    {"fireworks_ai", NULL, "https://api.fireworks.ai/inference/v1", {"FIREWORKS_AI_API_KEY"}, false, false, OAI},
    {"xai", NULL, "https://api.x.ai/v1", {"XAI_API_KEY"}, false, false, OAI},
    {"lm_studio", NULL, "http://localhost:1234/v1", {"LM_STUDIO_API_KEY"}, false, true, OAI},
    {"custom_openai", NULL, NULL, {NULL}, false, false, OAI},
};

const struct sl_provider *sl_provider_find(const char *name) {
  for (size_t i = 0; name && i < N(providers); i++) {
    if (strcmp(providers[i].name, name) == 0) return &providers[i];
    for (const char *const *a = providers[i].aliases; a && *a; a++)
      if (strcmp(*a, name) == 0) return &providers[i];
  }
  return NULL;
}

/* Providers LiteLLM knows that sluice does not speak to (yet): named as such in errors. */
static const char *const litellm_only[] = {
    "azure_ai",   "azure_text",  "sagemaker",  "sagemaker_chat",
    "cohere",     "cohere_chat", "codestral",  "perplexity",     "huggingface", "replicate",  "databricks",
    "watsonx",    "cloudflare",  "deepinfra",  "anyscale",       "voyage",      "nvidia_nim", "cerebras",
    "sambanova",  "ai21",        "nlp_cloud",  "aleph_alpha",    "palm",        "predibase",  "triton",
    "vllm",       "llamafile",   "friendliai", "github",         "clarifai",    "baseten",    "litellm_proxy",
    "jina_ai",    "dashscope",   "moonshot",   "nebius",         "novita",      "lambda_ai",  "xinference",
    "volcengine", "snowflake",   "meta_llama", "infinity",       "nscale",      NULL};

bool sl_provider_litellm_only(const char *name) {
  for (const char *const *p = litellm_only; name && *p; p++)
    if (strcmp(*p, name) == 0) return true;
  return false;
}

int sl_provider_names(char *out, size_t cap) {
  size_t len = 0;
  if (cap) out[0] = 0;
  for (size_t i = 0; i < N(providers); i++) {
    int n = snprintf(len < cap ? out + len : NULL, len < cap ? cap - len : 0, "%s%s", i ? ", " : "", providers[i].name);
    if (n < 0) return -1;
    len += (size_t)n;
  }
  return (int)len;
}

const struct sl_provider *sl_provider_all(size_t *n) {
  *n = N(providers);
  return providers;
}

const char *sl_provider_endpoint(enum sl_prov_route r) {
  switch (r) {
  case SL_PROV_COMPLETIONS: return "/completions";
  case SL_PROV_EMBEDDINGS: return "/embeddings";
  case SL_PROV_MESSAGES: return "/messages";
  case SL_PROV_RESPONSES: return "/responses";
  case SL_PROV_COUNT_TOKENS: return "/messages/count_tokens";
  case SL_PROV_MODERATIONS: return "/moderations";
  case SL_PROV_RERANK: return "/rerank";
  case SL_PROV_IMAGES: return "/images/generations";
  case SL_PROV_SPEECH: return "/audio/speech";
  case SL_PROV_TRANSCRIPTIONS: return "/audio/transcriptions";
  default: return "/chat/completions";
  }
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int fmt(char *out, size_t cap, const char *f, const char *a, const char *b, const char *c, const char *d) {
  int n = snprintf(out, cap, f, a, b, c, d);
  return n < 0 ? -1 : n;
}

int sl_provider_path(const struct sl_provider *p, enum sl_prov_route r, const char *endpoint, const char *base_path,
                     const char *model, const char *api_version, char *out, size_t cap) {
  if (!base_path) base_path = "";
  /* An OpenAI-wire provider answers Anthropic's /messages through chat completions. */
  if (!endpoint) endpoint = sl_provider_endpoint(r == SL_PROV_MESSAGES ? SL_PROV_CHAT : r);
  switch (p->path) {
  case SL_PATH_ANTHROPIC: {
    if (r != SL_PROV_CHAT && r != SL_PROV_MESSAGES && r != SL_PROV_RESPONSES && r != SL_PROV_COUNT_TOKENS) return -1;
    size_t bl = strlen(base_path); /* api_base may already end in /v1 or /v1/messages */
    const char *suffix = ends_with(base_path, bl, "/v1/messages") ? ""
                         : ends_with(base_path, bl, "/v1")        ? "/messages"
                                                                  : "/v1/messages";
    return fmt(out, cap, "%s%s%s%s", base_path, suffix, r == SL_PROV_COUNT_TOKENS ? "/count_tokens" : "", "");
  }
  case SL_PATH_AZURE:
    if (r == SL_PROV_RESPONSES) /* Azure's v1 API (no api-version); the deployment is named in the body */
      return fmt(out, cap, "%s/openai/v1%s%s%s", base_path, endpoint, "", "");
    if (r == SL_PROV_COUNT_TOKENS || r == SL_PROV_RERANK) return -1;
    return fmt(out, cap, "%s/openai/deployments/%s%s?api-version=%s", base_path, model ? model : "", endpoint,
               api_version              ? api_version
               : p->default_api_version ? p->default_api_version
                                        : "");
  case SL_PATH_DIALECT: return -1; /* sl_provider_dialect_path, per attempt */
  default:
    if (r == SL_PROV_COUNT_TOKENS) return -1;
    return fmt(out, cap, "%s%s%s%s", base_path, endpoint, "", "");
  }
}

/* Bedrock's model ids ("anthropic.claude-3-5-sonnet-20240620-v1:0", ARNs) go in the path
 * percent-encoded: every byte but the unreserved ones. */
static int pct_model(const char *m, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)m; *p; p++) {
    bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                 *p == '.' || *p == '_' || *p == '~';
    if (plain) {
      if (k + 1 < cap) out[k] = (char)*p;
      k++;
    } else {
      if (k + 3 < cap) {
        out[k] = '%';
        out[k + 1] = hex[*p >> 4];
        out[k + 2] = hex[*p & 15];
      }
      k += 3;
    }
  }
  if (cap) out[k < cap ? k : cap - 1] = 0;
  return k < cap ? (int)k : -1;
}

int sl_provider_dialect_path(enum sl_dialect d, enum sl_prov_route r, bool stream, const char *base_path,
                             const char *model, const char *project, const char *location, char *out, size_t cap) {
  if (!base_path) base_path = "";
  bool chat = r == SL_PROV_CHAT || r == SL_PROV_MESSAGES || r == SL_PROV_RESPONSES;
  char m[1024];
  switch (d) {
  case SL_DIALECT_BEDROCK_CONVERSE:
  case SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC:
  case SL_DIALECT_BEDROCK_EMBED_TITAN:
  case SL_DIALECT_BEDROCK_EMBED_COHERE: {
    bool embed = d == SL_DIALECT_BEDROCK_EMBED_TITAN || d == SL_DIALECT_BEDROCK_EMBED_COHERE;
    if (embed ? r != SL_PROV_EMBEDDINGS : !chat) return -1;
    if (pct_model(model ? model : "", m, sizeof m) < 0) return -1;
    const char *verb = d == SL_DIALECT_BEDROCK_CONVERSE ? (stream ? "converse-stream" : "converse")
                       : stream && !embed               ? "invoke-with-response-stream"
                                                        : "invoke";
    return fmt(out, cap, "%s/model/%s/%s%s", base_path, m, verb, "");
  }
  case SL_DIALECT_VERTEX_ANTHROPIC:
    if (!chat) return -1;
    {
      int n = snprintf(out, cap, "%s/v1/projects/%s/locations/%s/publishers/anthropic/models/%s:%s", base_path,
                       project ? project : "", location ? location : "", model ? model : "",
                       stream ? "streamRawPredict" : "rawPredict");
      return n < 0 ? -1 : n;
    }
  case SL_DIALECT_VERTEX_OPENAI:
    if (!chat) return -1;
    return fmt(out, cap, "%s/v1/projects/%s/locations/%s/endpoints/openapi/chat/completions%s", base_path,
               project ? project : "", location ? location : "", "");
  default: return -1;
  }
}

const char *sl_provider_auth_name(const struct sl_provider *p) {
  switch (p->auth) {
  case SL_AUTH_X_API_KEY: return "x-api-key";
  case SL_AUTH_API_KEY: return "api-key";
  default: return "Authorization";
  }
}

int sl_provider_auth_value(const struct sl_provider *p, const char *key, char *out, size_t cap) {
  int n = snprintf(out, cap, p->auth == SL_AUTH_BEARER ? "Bearer %s" : "%s", key ? key : "");
  return n < 0 ? -1 : n;
}
