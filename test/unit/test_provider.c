/* net/wire/provider: the provider adapter table. Lookup by name and LiteLLM alias, the
 * upstream path of every provider on every route (OpenAI-style, Azure's deployment path
 * with its api-version, Anthropic's /v1/messages whatever api_base ends in), the credential
 * header of each auth scheme, extra headers, snprintf-style sizing, the supported-names list
 * and LiteLLM's providers sluice does not speak to. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/wire/provider.h"

static const char *path(const char *prov, enum sl_prov_route r, const char *base, const char *model, const char *ver) {
  static char buf[512];
  const struct sl_provider *p = sl_provider_find(prov);
  if (!p) return "<no provider>";
  int n = sl_provider_path(p, r, NULL, base, model, ver, buf, sizeof buf);
  if (n < 0) return "<none>";
  if ((size_t)n >= sizeof buf) return "<too long>";
  return buf;
}

static void lookup(void) {
  CHECK(sl_provider_find("openai") != NULL);
  CHECK(sl_provider_find("text-completion-openai") == sl_provider_find("openai"));
  CHECK(sl_provider_find("ollama_chat") == sl_provider_find("ollama"));
  CHECK(sl_provider_find("cohere") == NULL);
  CHECK(sl_provider_find("vertex_ai_beta") == sl_provider_find("vertex_ai"));
  CHECK(sl_provider_find("bedrock")->path == SL_PATH_DIALECT); /* paths built per attempt */
  CHECK(sl_provider_path(sl_provider_find("bedrock"), SL_PROV_CHAT, NULL, "", "m", NULL, NULL, 0) == -1);
  CHECK(sl_provider_find("OpenAI") == NULL); /* LiteLLM's prefixes are case-sensitive */
  CHECK(sl_provider_find(NULL) == NULL);
  CHECK(sl_provider_find("") == NULL);
  CHECK_STR(sl_provider_find("anthropic")->default_base, "https://api.anthropic.com");
  CHECK(sl_provider_find("azure")->default_base == NULL); /* api_base required */
  CHECK(sl_provider_find("hosted_vllm")->default_base == NULL);
  CHECK(sl_provider_find("hosted_vllm")->key_optional);
  CHECK(sl_provider_find("openai")->key_env_default_base_only);
  CHECK_STR(sl_provider_find("openrouter")->key_env[1], "OR_API_KEY");
  CHECK_STR(sl_provider_find("azure")->key_env[0], "AZURE_API_KEY");
  /* every row: a name, at most two extra headers (the request has room for them), a known
   * wire; names and aliases unique across the table */
  size_t n;
  const struct sl_provider *all = sl_provider_all(&n);
  CHECK(n >= 15);
  for (size_t i = 0; i < n; i++) {
    CHECK(all[i].name && all[i].name[0]);
    CHECK(sl_provider_find(all[i].name) == &all[i]);
    size_t nx = 0;
    for (const struct sl_prov_header *x = all[i].extra; x && x->name; x++) nx++;
    CHECK(nx <= 2);
    CHECK(all[i].wire == SL_WIRE_OPENAI || all[i].wire == SL_WIRE_ANTHROPIC);
    for (const char *const *a = all[i].aliases; a && *a; a++) CHECK(sl_provider_find(*a) == &all[i]);
  }
}

static void wires(void) {
  CHECK(sl_provider_find("anthropic")->wire == SL_WIRE_ANTHROPIC);
  CHECK(sl_provider_find("azure")->wire == SL_WIRE_OPENAI);
  CHECK(sl_provider_find("openai")->wire == SL_WIRE_OPENAI);
  CHECK(sl_provider_find("gemini")->wire == SL_WIRE_OPENAI);
  const struct sl_prov_header *x = sl_provider_find("anthropic")->extra;
  CHECK(x && x[0].name && strcmp(x[0].name, "anthropic-version") == 0);
  CHECK(x && x[0].value && strcmp(x[0].value, SL_XLATE_ANTHROPIC_VERSION) == 0 && !x[1].name);
  CHECK(sl_provider_find("openai")->extra == NULL);
}

static void paths_openai_style(void) {
  static const char *const oai[] = {"openai",      "custom_openai", "hosted_vllm", "openrouter", "gemini",
                                    "ollama",      "lm_studio",     "groq",        "deepseek",   "mistral",
                                    "together_ai", "fireworks_ai",  "xai"};
  for (size_t i = 0; i < sizeof oai / sizeof oai[0]; i++) {
    CHECK_STR(path(oai[i], SL_PROV_CHAT, "/v1", "m", NULL), "/v1/chat/completions");
    CHECK_STR(path(oai[i], SL_PROV_COMPLETIONS, "/v1", "m", NULL), "/v1/completions");
    CHECK_STR(path(oai[i], SL_PROV_EMBEDDINGS, "/v1", "m", NULL), "/v1/embeddings");
    /* Anthropic's /v1/messages, translated, goes to chat completions */
    CHECK_STR(path(oai[i], SL_PROV_MESSAGES, "/v1", "m", NULL), "/v1/chat/completions");
  }
  CHECK_STR(path("openai", SL_PROV_CHAT, "", "m", NULL), "/chat/completions");
  CHECK_STR(path("gemini", SL_PROV_CHAT, "/v1beta/openai", "m", NULL), "/v1beta/openai/chat/completions");
  CHECK_STR(path("openai", SL_PROV_CHAT, NULL, "m", NULL), "/chat/completions");
}

static void paths_azure(void) {
  CHECK_STR(path("azure", SL_PROV_CHAT, "", "gpt4o-prod", NULL),
            "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
  CHECK_STR(path("azure", SL_PROV_COMPLETIONS, "/x", "d", "2025-01-01-preview"),
            "/x/openai/deployments/d/completions?api-version=2025-01-01-preview");
  CHECK_STR(path("azure", SL_PROV_EMBEDDINGS, "", "emb", NULL),
            "/openai/deployments/emb/embeddings?api-version=2024-10-21");
  CHECK_STR(path("azure", SL_PROV_MESSAGES, "", "d", NULL),
            "/openai/deployments/d/chat/completions?api-version=2024-10-21");
}

static void paths_anthropic(void) {
  CHECK_STR(path("anthropic", SL_PROV_CHAT, "", "claude", NULL), "/v1/messages");
  CHECK_STR(path("anthropic", SL_PROV_MESSAGES, "", "claude", NULL), "/v1/messages");
  CHECK_STR(path("anthropic", SL_PROV_MESSAGES, "/v1", "claude", NULL), "/v1/messages");
  CHECK_STR(path("anthropic", SL_PROV_MESSAGES, "/proxy/v1/messages", "c", NULL), "/proxy/v1/messages");
  CHECK_STR(path("anthropic", SL_PROV_CHAT, "/proxy", "c", NULL), "/proxy/v1/messages");
  /* no completions or embeddings on the Messages API */
  CHECK_STR(path("anthropic", SL_PROV_COMPLETIONS, "", "c", NULL), "<none>");
  CHECK_STR(path("anthropic", SL_PROV_COUNT_TOKENS, "/v1", "c", NULL), "/v1/messages/count_tokens");
  CHECK_STR(path("anthropic", SL_PROV_RESPONSES, "", "c", NULL), "/v1/messages");
  CHECK_STR(path("anthropic", SL_PROV_MODERATIONS, "", "c", NULL), "<none>");
  CHECK_STR(path("openai", SL_PROV_RESPONSES, "/v1", "m", NULL), "/v1/responses");
  CHECK_STR(path("openai", SL_PROV_TRANSCRIPTIONS, "/v1", "m", NULL), "/v1/audio/transcriptions");
  CHECK_STR(path("openai", SL_PROV_COUNT_TOKENS, "/v1", "m", NULL), "<none>");
  CHECK_STR(path("azure", SL_PROV_RESPONSES, "", "d", NULL), "/openai/v1/responses");
  CHECK(sl_provider_find("openai")->responses && sl_provider_find("azure")->responses &&
        !sl_provider_find("hosted_vllm")->responses && !sl_provider_find("anthropic")->responses);
  CHECK_STR(path("anthropic", SL_PROV_EMBEDDINGS, "", "c", NULL), "<none>");
}

static void path_sizing_and_endpoint_override(void) {
  const struct sl_provider *p = sl_provider_find("azure");
  int n = sl_provider_path(p, SL_PROV_CHAT, NULL, "/b", "d", "v", NULL, 0);
  CHECK(n == (int)strlen("/b/openai/deployments/d/chat/completions?api-version=v"));
  char small[8];
  CHECK(sl_provider_path(p, SL_PROV_CHAT, NULL, "/b", "d", "v", small, sizeof small) == n);
  CHECK(strlen(small) == 7); /* truncated, terminated */
  char buf[128];
  CHECK(sl_provider_path(sl_provider_find("openai"), SL_PROV_CHAT, "/responses", "/v1", "m", NULL, buf, sizeof buf) >
        0);
  CHECK_STR(buf, "/v1/responses");
  CHECK_STR(sl_provider_endpoint(SL_PROV_CHAT), "/chat/completions");
  CHECK_STR(sl_provider_endpoint(SL_PROV_MESSAGES), "/messages");
}

static void auth(void) {
  char buf[64];
  const struct sl_provider *o = sl_provider_find("openai"), *a = sl_provider_find("anthropic"),
                           *z = sl_provider_find("azure");
  CHECK_STR(sl_provider_auth_name(o), "Authorization");
  CHECK(sl_provider_auth_value(o, "sk-1", buf, sizeof buf) == 11);
  CHECK_STR(buf, "Bearer sk-1");
  CHECK_STR(sl_provider_auth_name(a), "x-api-key");
  CHECK(sl_provider_auth_value(a, "sk-ant", buf, sizeof buf) == 6);
  CHECK_STR(buf, "sk-ant");
  CHECK_STR(sl_provider_auth_name(z), "api-key");
  sl_provider_auth_value(z, "az", buf, sizeof buf);
  CHECK_STR(buf, "az");
  CHECK(sl_provider_auth_value(o, "abcdefghij", NULL, 0) == 17); /* sizing */
  CHECK_STR(sl_provider_auth_name(sl_provider_find("groq")), "Authorization");
}

static void names_and_unsupported(void) {
  char buf[512];
  int n = sl_provider_names(buf, sizeof buf);
  CHECK(n == (int)strlen(buf));
  CHECK(strncmp(buf, "openai, anthropic, azure, ", 26) == 0);
  CHECK(strstr(buf, ", custom_openai") && !strstr(buf, "text-completion-openai"));
  char small[10];
  CHECK(sl_provider_names(small, sizeof small) == n && strlen(small) == 9);
  CHECK(sl_provider_litellm_only("cohere") && sl_provider_litellm_only("sagemaker"));
  CHECK(!sl_provider_litellm_only("bedrock") && !sl_provider_litellm_only("vertex_ai"));
  CHECK(!sl_provider_litellm_only("openai") && !sl_provider_litellm_only("nonsense") &&
        !sl_provider_litellm_only(NULL));
  /* no row is also listed as unsupported */
  size_t k;
  const struct sl_provider *all = sl_provider_all(&k);
  for (size_t i = 0; i < k; i++) CHECK(!sl_provider_litellm_only(all[i].name));
}

CHECK_MAIN(T(lookup), T(names_and_unsupported), T(wires), T(paths_openai_style), T(paths_azure), T(paths_anthropic),
           T(path_sizing_and_endpoint_override), T(auth))
