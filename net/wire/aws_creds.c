/* AWS shared credentials/config files; see aws_creds.h. (stub: the real code follows) */
#include "net/wire/aws_creds.h"

#include <errno.h>
#include <string.h>

int sl_aws_profile_parse(const char *text, size_t n, const char *name, bool config_file, struct sl_aws_profile *out,
                         char *err, size_t errlen) {
  (void)text, (void)n, (void)name, (void)config_file, (void)err, (void)errlen;
  memset(out, 0, sizeof *out);
  return -ENOENT;
}
