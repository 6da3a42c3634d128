/* Value parsers for the config loader: the small, pure functions that turn one YAML scalar's
 * text into a typed value (YAML 1.1 plain-scalar typing as PyYAML does it, integers, numbers,
 * sizes, durations, URLs, listen addresses) and suggest a spelling for an unknown key.
 * The one idea: no YAML, no allocation policy, no messages about key paths here; each parser
 * says only whether the text is valid, so the loader (config.c) owns every error message.
 * Internal to core/; exposed in a header so test_config.c can test them directly. */
#ifndef SL_CORE_CONFIG_PARSE_H
#define SL_CORE_CONFIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a plain (unquoted) scalar means under YAML 1.1 as PyYAML resolves it
 * (LiteLLM reads config.yaml with PyYAML). */
enum sl_yaml_type { SL_YAML_NULL, SL_YAML_BOOL, SL_YAML_INT, SL_YAML_FLOAT, SL_YAML_STR };
enum sl_yaml_type sl_config_yaml11_type(const char *s);
const char *sl_config_yaml_type_name(enum sl_yaml_type t); /* "an integer", "a boolean", ... */

/* true/false, yes/no, on/off in PyYAML's spellings (true, True, TRUE, ...). 0 or -EINVAL. */
int sl_config_parse_bool(const char *s, bool *out);
/* Decimal integer, optional sign, '_' separators allowed ("1_000"). 0, -EINVAL, -ERANGE. */
int sl_config_parse_int(const char *s, int64_t *out);
/* Finite decimal number ("0.5", "2.5e-06", "3"). 0 or -EINVAL. */
int sl_config_parse_number(const char *s, double *out);
/* Byte size: "1048576", "512KB" (1000), "16MiB" (1024), "64k"/"16M"/"1G" (1024, nginx style).
 * Units are case-insensitive; optional space before the unit. 0, -EINVAL, -ERANGE. */
int sl_config_parse_size(const char *s, uint64_t *out);
/* Duration: a bare number is seconds ("10", "0.5"); or a number with a unit: ms, s, m, h
 * ("500ms", "1.5s", "2m", "1h"). Result in milliseconds, rounded to nearest. */
int sl_config_parse_duration_ms(const char *s, uint64_t *out);

/* An http(s) URL split for the upstream client. host has no brackets (IPv6 literals are bare),
 * path has no trailing '/' and is "" or starts with '/'. Strings are malloc'd. */
struct sl_config_url {
  char *host;
  uint16_t port;
  bool tls;
  char *path;
};
/* 0, or -EINVAL with *why set to a static reason; -ENOMEM. */
int sl_config_parse_url(const char *s, struct sl_config_url *out, const char **why);
/* s for messages: credentials before '@' in the authority and every query-string value
 * replaced by "REDACTED", the fragment dropped (an api_base may carry "?key=<secret>").
 * Always NUL-terminates out (truncating). */
void sl_config_redact_url(const char *s, char *out, size_t n);
void sl_config_url_clear(struct sl_config_url *u);

/* "host:port" or "[v6]:port"; host is malloc'd and bare (no brackets). */
int sl_config_parse_listen(const char *s, char **host, uint16_t *port, const char **why);
/* A hostname, IPv4 or IPv6 literal (bare) usable as a listen or upstream host. */
bool sl_config_host_valid(const char *h);

/* The closest candidate within a small edit distance, or NULL. */
const char *sl_config_did_you_mean(const char *word, const char *const *cands, size_t n);

#endif
