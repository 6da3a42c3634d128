/* Shared inside the Bedrock translators (net/wire/xlate_bedrock_*.c); not an API for other
 * rooms. The one idea: the vocabularies Bedrock spells its own way (stop reasons, error
 * names) are tables in xlate_bedrock_err.c, and the message id a Converse answer lacks is
 * derived here the same way for whole answers and streams. */
#ifndef SL_NET_XLATE_BEDROCK_INTERNAL_H
#define SL_NET_XLATE_BEDROCK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "net/wire/xlate_bedrock.h"
#include "net/wire/xlate_internal.h"

/* Converse stopReason -> Anthropic stop_reason (unknown or NULL -> "end_turn"). */
const char *sl__bedrock_stop_reason(const char *stop_reason);
/* "msg_<...>": o->resp_id's hex when the caller minted one ("resp_<hex>"), else "bdrk_" and
 * 24 hex digits of a hash of (created, seed bytes). */
void sl__bedrock_msg_id(char out[64], const struct sl_xlate_resp_opts *o, const void *seed, size_t n);
/* Converse usage {inputTokens, outputTokens, cacheReadInputTokens, cacheWriteInputTokens}
 * -> u (counters present overwrite; known set when usage is an object). */
void sl__bedrock_usage(const cJSON *usage, struct sl_xlate_usage *u);
/* The OpenAI error type, code and default HTTP status of a Bedrock error name (case
 * insensitive, any ":..." suffix ignored); false when the name is unknown. */
bool sl__bedrock_err_name(const char *name, size_t n, const char **type, const char **code, int *status);

#endif
