/* The built-in price table: list prices of common OpenAI, Anthropic, Gemini, AWS Bedrock and
 * Vertex AI models,
 * for deployments whose config gives no model_info prices. The one idea: the table is
 * plain data (policy/prices.c) with the date it was last checked, and a lookup that
 * maps the names people actually send (provider prefixes, dated snapshots, aliases)
 * onto a family entry without ever guessing across families: "gpt-4o-2024-08-06" is
 * gpt-4o, "gpt-4o-mini" is gpt-4o-mini, and "claude-opus-4-6" is unknown rather than
 * priced as claude-opus-4.
 *
 * Prices change: every entry must be checked against the providers' pricing pages
 * (platform.openai.com/docs/pricing, docs.anthropic.com/en/docs/about-claude/pricing,
 * ai.google.dev/gemini-api/docs/pricing) whenever SL_PRICES_CHECKED is moved. Only the
 * standard (non-batch, non-priority, short-context) tier is modelled. */
#ifndef SL_POLICY_PRICES_H
#define SL_POLICY_PRICES_H

#include <stddef.h>

#include "policy/cost.h"

/* The day the table was last compiled (see prices.c for what was and was not verified). */
#define SL_PRICES_CHECKED "2026-11-21"

struct sl_price_entry {
  const char *model;    /* family or snapshot name, lower case */
  const char *provider; /* "openai", "anthropic", "gemini" */
  struct sl_price price;
  const char *note;     /* NULL, or what is uncertain or not modelled about this entry */
};

/* The entry for a model name, or NULL when the table does not know it. Matching:
 * everything up to the last '/' is dropped ("openai/gpt-4o", "anthropic/...",
 * "gemini/...", "azure/...", "bedrock/converse/..."), then a Bedrock cross-region profile
 * prefix ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "global." before a name with
 * a '.'), ASCII case is ignored, and an entry matches the name
 * exactly or as a prefix followed by a snapshot suffix only:
 *   "@..." (Vertex: "claude-3-5-sonnet-v2@20241022"), ":<digit>..." (Bedrock: "...-v2:0"),
 *   "-latest", "-v<digit>...",
 *   "-" and a run of 3+ digits ("-2024-08-06", "-20241022", "-0125", "-001"),
 *   "-" and two digits, '-' and a digit (a month-day date: the "-06-05" of
 *   gemini-2.5-pro-preview-06-05), or
 *   "-0" alone or before '-' / '@' ("claude-sonnet-4-0").
 * A short digit run ("-1", "-5") is a new version, not a snapshot, so it needs its own
 * entry. Among matching entries the longest name wins. */
const struct sl_price_entry *sl_prices_lookup(const char *model);

/* The whole table, for startup listings and tests. */
size_t sl_prices_count(void);
const struct sl_price_entry *sl_prices_at(size_t i);

#endif
