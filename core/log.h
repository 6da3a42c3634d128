/* Logging: one JSON object per line on stdout or in a file (sluice_settings.log_file),
 * each written with a single write(2) on an O_APPEND descriptor so lines from the master
 * and every worker never interleave. Every process reopens the file on SIGUSR1 (for
 * logrotate): the master reopens its own and forwards the signal to the workers. */
#ifndef SL_CORE_LOG_H
#define SL_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum sl_log_level { SL_LOG_DEBUG = 0, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };

void sl_log_set_level(enum sl_log_level l);
int sl_log_level_parse(const char *s, enum sl_log_level *out);
bool sl_log_enabled(enum sl_log_level l);
/* `fields` is a printf format producing further JSON members without braces or a
 * leading comma (e.g. "\"port\":%u"), or NULL. msg is a plain literal. */
void sl_log(enum sl_log_level l, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the opening members of a log line ({"ts":..,"level":..,"msg":..,"pid":..)
 * into buf (no closing brace); returns the length, or -1 if it does not fit. */
int sl_log_open(char *buf, size_t cap, enum sl_log_level l, const char *msg);
/* Writes an already built JSON line (without the newline). */
void sl_log_raw(const char *json, size_t n);
/* Sends the log to path (created 0640, O_APPEND), or back to stdout when path is NULL or
 * empty. On failure the current destination is kept and -errno returned (err filled). */
int sl_log_set_file(const char *path, char *err, size_t errlen);
/* Reopens the log file by its path (after a rename by logrotate); no-op on stdout.
 * Returns 0 or -errno (then the old descriptor is kept). */
int sl_log_reopen(void);
/* The current log file path, or NULL for stdout. */
const char *sl_log_file(void);

#endif
