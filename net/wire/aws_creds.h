/* The AWS shared credentials and config files (~/.aws/credentials, ~/.aws/config), read
 * the way the AWS CLI reads them: INI sections, '#' and ';' comment lines, whitespace around
 * names and values ignored; "[name]" in the credentials file, "[profile name]" (and
 * "[default]") in the config file. The one idea: only the four keys sluice needs are kept,
 * the rest of the file is skipped, and a value that does not fit is an error naming its
 * line, never a silently cut key. Pure: text in, fields out (the caller reads the file). To
 * extend it (another key), add a field and a row to the key table in aws_creds.c. */
#ifndef SL_NET_WIRE_AWS_CREDS_H
#define SL_NET_WIRE_AWS_CREDS_H

#include <stdbool.h>
#include <stddef.h>

struct sl_aws_profile {
  char access_key_id[129], secret_access_key[129], session_token[4097], region[65];
};

/* Reads profile `name` from the text of ~/.aws/credentials (config_file false: sections
 * "[name]") or ~/.aws/config (true: "[profile name]", "[default]"); fills the keys found
 * (others left empty). 0, -ENOENT (no such profile), -EINVAL (err says the line). */
int sl_aws_profile_parse(const char *text, size_t n, const char *name, bool config_file, struct sl_aws_profile *out,
                         char *err, size_t errlen);

#endif
