/* The built-in price table (data) and its lookup; see prices.h. The one idea: the table
 * is written in USD per million tokens, as the providers publish it, and converted to
 * per-token prices at compile time, so checking an entry against a pricing page is a
 * glance.
 *
 * What SL_PRICES_CHECKED means here: the table was compiled on that date from the
 * providers' public list prices as known to its author; it was NOT re-read from the
 * live pricing pages on that date (the build has no network). Before relying on it,
 * check each entry, and move the date only when you have. Entries the author was
 * least sure of carry a note; in particular: o3 (cut from 10/40 to 2/8 in 2025), the
 * Gemini context-caching prices (changed with implicit caching in 2025), gpt-5 family
 * cache prices, and the prices of models released after mid 2025, which are absent.
 *
 * Not modelled (every entry is the standard tier): batch and flex discounts, priority
 * tier, long-context tiers (Gemini > 128k/200k prompt, Claude Sonnet 4 / 4.5 > 200k
 * with the 1M context beta), audio/image token prices, Anthropic 1-hour cache writes
 * (2x input; the 5-minute 1.25x is used), Gemini cache storage per hour, per-call tool
 * fees (web search). OpenAI and Gemini have no cache-write price (writes cost the input
 * price); Anthropic's is 1.25x input, reads 0.1x. */
#include "policy/prices.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define PM(x) ((x) / 1e6) /* USD per million tokens -> USD per token */

/* in, out: always; cr: cache read (< 0: none, cached tokens at the input price);
 * cw: cache write (< 0: none). */
#define P(in, out, cr, cw) \
  {PM(in), PM(out), (cr) < 0 ? 0 : PM(cr), (cw) < 0 ? 0 : PM(cw), (cr) >= 0, (cw) >= 0}

static const struct sl_price_entry table[] = {
  /* ---- OpenAI (platform.openai.com/docs/pricing, standard tier) ---- */
  {"gpt-4o", "openai", P(2.50, 10.00, 1.25, -1), NULL},
  {"gpt-4o-2024-05-13", "openai", P(5.00, 15.00, -1, -1), "first snapshot, priced higher, no caching"},
  {"gpt-4o-mini", "openai", P(0.15, 0.60, 0.075, -1), NULL},
  {"gpt-4.1", "openai", P(2.00, 8.00, 0.50, -1), NULL},
  {"gpt-4.1-mini", "openai", P(0.40, 1.60, 0.10, -1), NULL},
  {"gpt-4.1-nano", "openai", P(0.10, 0.40, 0.025, -1), NULL},
  {"gpt-5", "openai", P(1.25, 10.00, 0.125, -1), "check: released Aug 2025"},
  {"gpt-5-mini", "openai", P(0.25, 2.00, 0.025, -1), "check: released Aug 2025"},
  {"gpt-5-nano", "openai", P(0.05, 0.40, 0.005, -1), "check: released Aug 2025"},
  {"o1", "openai", P(15.00, 60.00, 7.50, -1), NULL},
  {"o1-preview", "openai", P(15.00, 60.00, 7.50, -1), "retired"},
  {"o1-mini", "openai", P(1.10, 4.40, 0.55, -1), "was 3/12 before early 2025"},
  {"o1-pro", "openai", P(150.00, 600.00, -1, -1), NULL},
  {"o3", "openai", P(2.00, 8.00, 0.50, -1), "check: 10/40 (cache 2.50) before the June 2025 cut"},
  {"o3-mini", "openai", P(1.10, 4.40, 0.55, -1), NULL},
  {"o3-pro", "openai", P(20.00, 80.00, -1, -1), NULL},
  {"o4-mini", "openai", P(1.10, 4.40, 0.275, -1), NULL},
  {"gpt-4-turbo", "openai", P(10.00, 30.00, -1, -1), NULL},
  {"gpt-4-1106-preview", "openai", P(10.00, 30.00, -1, -1), "GPT-4 Turbo preview"},
  {"gpt-4-0125-preview", "openai", P(10.00, 30.00, -1, -1), "GPT-4 Turbo preview"},
  {"gpt-4", "openai", P(30.00, 60.00, -1, -1), "8k context; gpt-4-32k is unknown"},
  {"gpt-3.5-turbo", "openai", P(0.50, 1.50, -1, -1), "0125 prices; -1106 was 1/2"},
  {"text-embedding-3-small", "openai", P(0.02, 0, -1, -1), NULL},
  {"text-embedding-3-large", "openai", P(0.13, 0, -1, -1), NULL},
  {"text-embedding-ada-002", "openai", P(0.10, 0, -1, -1), NULL},

  /* ---- Anthropic (docs.anthropic.com pricing): cache read 0.1x input, 5-minute
   * cache write 1.25x input ---- */
  {"claude-3-haiku", "anthropic", P(0.25, 1.25, 0.03, 0.30), NULL},
  {"claude-3-opus", "anthropic", P(15.00, 75.00, 1.50, 18.75), "retired"},
  {"claude-3-5-haiku", "anthropic", P(0.80, 4.00, 0.08, 1.00), NULL},
  {"claude-3-5-sonnet", "anthropic", P(3.00, 15.00, 0.30, 3.75), "retired"},
  {"claude-3-7-sonnet", "anthropic", P(3.00, 15.00, 0.30, 3.75), NULL},
  {"claude-sonnet-4", "anthropic", P(3.00, 15.00, 0.30, 3.75), "prompts > 200k (1M beta) cost 6/22.50"},
  {"claude-sonnet-4-5", "anthropic", P(3.00, 15.00, 0.30, 3.75), "prompts > 200k (1M beta) cost 6/22.50"},
  {"claude-opus-4", "anthropic", P(15.00, 75.00, 1.50, 18.75), NULL},
  {"claude-opus-4-1", "anthropic", P(15.00, 75.00, 1.50, 18.75), NULL},
  {"claude-opus-4-5", "anthropic", P(5.00, 25.00, 0.50, 6.25), "check: released Nov 2025"},
  {"claude-haiku-4-5", "anthropic", P(1.00, 5.00, 0.10, 1.25), NULL},

  /* ---- Gemini (ai.google.dev/gemini-api/docs/pricing, paid tier, text input,
   * short-context tier) ---- */
  {"gemini-1.5-pro", "gemini", P(1.25, 5.00, 0.3125, -1), "prompts <= 128k; retired"},
  {"gemini-1.5-flash", "gemini", P(0.075, 0.30, 0.01875, -1), "prompts <= 128k; retired"},
  {"gemini-1.5-flash-8b", "gemini", P(0.0375, 0.15, 0.01, -1), "retired"},
  {"gemini-2.0-flash", "gemini", P(0.10, 0.40, 0.025, -1), "text/image/video input (audio 0.70)"},
  {"gemini-2.0-flash-lite", "gemini", P(0.075, 0.30, -1, -1), NULL},
  {"gemini-2.5-pro", "gemini", P(1.25, 10.00, 0.125, -1),
   "prompts <= 200k (above: 2.50/15); check the cache price (was 0.31)"},
  {"gemini-2.5-pro-preview", "gemini", P(1.25, 10.00, 0.125, -1), "as gemini-2.5-pro"},
  {"gemini-2.5-flash", "gemini", P(0.30, 2.50, 0.03, -1), "GA prices; check the cache price (was 0.075)"},
  {"gemini-2.5-flash-lite", "gemini", P(0.10, 0.40, 0.01, -1), "check the cache price"},

  /* ---- AWS Bedrock (model ids as Bedrock names them; the lookup drops "bedrock/",
   * "bedrock/converse/", "bedrock/invoke/" and a cross-region profile's "us.", "eu.",
   * "apac."... prefix, and takes "-<date>-v1:0" / "-v1:0" / ":0" as snapshot suffixes).
   * Numbers from LiteLLM's model_prices_and_context_window.json (mid-2026 copy), on-demand
   * us-east-1; a cross-region profile is priced as its base model (LiteLLM lists some EU/APAC
   * profiles higher, e.g. Nova Pro 1.05/4.20 in eu). Check before relying. ---- */
  {"anthropic.claude-3-haiku", "bedrock", P(0.25, 1.25, 0.025, 0.3125), "check: LiteLLM's Bedrock entry"},
  {"anthropic.claude-3-5-haiku", "bedrock", P(0.80, 4.00, 0.08, 1.00), "check: LiteLLM's Bedrock entry"},
  {"anthropic.claude-3-5-sonnet", "bedrock", P(3.00, 15.00, 0.30, 3.75), "check: v1 and v2 priced alike"},
  {"anthropic.claude-sonnet-4", "bedrock", P(3.00, 15.00, 0.30, 3.75), "check: prompts > 200k cost 6/22.50"},
  {"amazon.nova-micro", "bedrock", P(0.035, 0.14, -1, -1), "check: LiteLLM's Bedrock entry"},
  {"amazon.nova-lite", "bedrock", P(0.06, 0.24, -1, -1), "check: LiteLLM's Bedrock entry"},
  {"amazon.nova-pro", "bedrock", P(0.80, 3.20, -1, -1), "check: eu/apac profiles cost more"},
  {"meta.llama3-1-8b-instruct", "bedrock", P(0.22, 0.22, -1, -1), "check: LiteLLM's Bedrock entry"},
  {"meta.llama3-1-70b-instruct", "bedrock", P(0.99, 0.99, -1, -1), "check: LiteLLM's Bedrock entry"},
  {"mistral.mistral-large-2407", "bedrock", P(3.00, 9.00, -1, -1), "check: LiteLLM's Bedrock entry"},
  {"amazon.titan-embed-text-v2", "bedrock", P(0.02, 0, -1, -1), "check: LiteLLM's Bedrock entry"},
  {"cohere.embed-english-v3", "bedrock", P(0.10, 0, -1, -1), "check: LiteLLM's Bedrock entry"},
  {"cohere.embed-multilingual-v3", "bedrock", P(0.10, 0, -1, -1), "check: LiteLLM's Bedrock entry"},

  /* ---- Google Vertex AI: Gemini names are the Gemini entries above ("google/gemini-2.5-pro"
   * through the OpenAI-compatible endpoint too); Claude on Vertex is named
   * "<family>@<date>", priced as Anthropic's entries except where LiteLLM lists a Vertex
   * price of its own. Check before relying. ---- */
  {"claude-3-5-haiku@20241022", "vertex_ai", P(1.00, 5.00, -1, -1),
   "check: LiteLLM's Vertex price (Anthropic's own API: 0.80/4)"},
  {"text-embedding-005", "vertex_ai", P(0.10, 0, -1, -1),
   "check: Vertex bills 0.025 per million characters; LiteLLM's per-token equivalent"},
};

#define N (sizeof table / sizeof table[0])

size_t sl_prices_count(void) { return N; }

const struct sl_price_entry *sl_prices_at(size_t i) { return i < N ? &table[i] : NULL; }

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* What may follow a family name for the name to still be that family (see prices.h). */
static bool snapshot_suffix(const char *r) {
  if (*r == 0 || *r == '@') return true;
  if (*r == ':' && is_digit(r[1])) return true; /* Bedrock's model version, "...-v2:0" */
  if (*r != '-') return false;
  r++;
  if (strncasecmp(r, "latest", 6) == 0) return r[6] == 0 || r[6] == '@';
  if ((*r == 'v' || *r == 'V') && is_digit(r[1])) return true;
  size_t d = 0;
  while (is_digit(r[d])) d++;
  if (d >= 3) return true;
  if (d == 2 && r[2] == '-' && is_digit(r[3])) return true; /* "-06-05" (MM-DD) */
  return d == 1 && r[0] == '0' && (r[1] == 0 || r[1] == '-' || r[1] == '@');
}

const struct sl_price_entry *sl_prices_lookup(const char *model) {
  if (!model) return NULL;
  const char *slash = strrchr(model, '/');
  if (slash) model = slash + 1;
  /* a Bedrock cross-region inference profile: "us.anthropic.claude-..." is the model's price */
  static const char *const profiles[] = {"us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "global."};
  for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
    size_t k = strlen(profiles[i]);
    if (strncasecmp(model, profiles[i], k) == 0 && strchr(model + k, '.')) {
      model += k;
      break;
    }
  }
  const struct sl_price_entry *best = NULL;
  size_t best_len = 0;
  for (size_t i = 0; i < N; i++) {
    size_t k = strlen(table[i].model);
    if (k <= best_len || strncasecmp(model, table[i].model, k) != 0) continue;
    if (!snapshot_suffix(model + k)) continue;
    best = &table[i];
    best_len = k;
  }
  return best;
}
