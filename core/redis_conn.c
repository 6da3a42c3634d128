/* core/redis_conn.c: STUB (to be written): see core/redis_conn.h. */
#include "core/redis_conn.h"

#include <errno.h>
#include <string.h>

int sl_redis_open(uv_loop_t *loop, const struct sl_redis_opts *o, struct sl_redis **out) {
  (void)loop; (void)o; *out = NULL;
  return -ENOSYS;
}
void sl_redis_close(struct sl_redis *r) { (void)r; }
bool sl_redis_up(const struct sl_redis *r) { (void)r; return false; }
size_t sl_redis_pending(const struct sl_redis *r) { (void)r; return 0; }
uint64_t sl_redis_cmd(struct sl_redis *r, sl_redis_cb cb, void *ud, int argc, const char *const *argv,
                      const size_t *lens) {
  (void)r; (void)cb; (void)ud; (void)argc; (void)argv; (void)lens;
  return 0;
}
void sl_redis_cancel(struct sl_redis *r, uint64_t t) { (void)r; (void)t; }
void sl_redis_script_init(struct sl_redis_script *s, const char *name, const char *source) {
  s->name = name; s->source = source; memset(s->sha1, 0, sizeof s->sha1);
}
uint64_t sl_redis_eval(struct sl_redis *r, struct sl_redis_script *s, sl_redis_cb cb, void *ud, int nkeys,
                       int nargs, const char *const *argv, const size_t *lens) {
  (void)r; (void)s; (void)cb; (void)ud; (void)nkeys; (void)nargs; (void)argv; (void)lens;
  return 0;
}
