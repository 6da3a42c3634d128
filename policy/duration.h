/* Durations as people write them in config files and admin requests: "500ms", "10s",
 * "2m", "1h", "30d", "1w", "1mo", or a plain number of seconds. The one idea: every
 * duration of the program (timeouts, hedge delays, budget_duration of the gateway and
 * of virtual keys, key lifetimes) goes through this one parser, so a unit that works in
 * one place works everywhere and a typo ("30x") is refused everywhere.
 *
 * Grammar: <number> [spaces] [unit]. The number is decimal (digits, one '.', an
 * exponent "1e3"; '_' allowed between digits as YAML writes "1_000"), not negative.
 * Units (case-sensitive): ms; s (or none); m, min; h; d; w (7 d); mo (30 d, as LiteLLM).
 * To add a unit: one line in the table in duration.c. */
#ifndef SL_POLICY_DURATION_H
#define SL_POLICY_DURATION_H

#include <stdint.h>

/* Writes the duration in milliseconds (rounded to nearest) to *ms. 0 or -EINVAL
 * (malformed, negative, unknown unit), -ERANGE (above 2^53 ms, ~285,000 years). */
int sl_policy_duration_parse_ms(const char *s, uint64_t *ms);

/* The same in whole seconds for periods (budget_duration, key lifetimes): 0 or
 * -EINVAL, also when the value is below one second or not a whole number of seconds. */
int sl_policy_duration_parse_s(const char *s, int64_t *seconds);

#endif
