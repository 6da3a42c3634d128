/* The request summary's consumers that are plain formatting: the JSON access-log
 * line (see summary.h). Its fields and their order are a contract (log readers and
 * tests parse it): add new fields at the end of their group, never reorder. */
#include "core/summary.h"

#include <string.h>

#include "core/tenancy.h"

static void str_field(struct sl_buf *b, const char *name, const char *v) {
  sl_buf_printf(b, ",\"%s\":\"", name);
  sl_buf_json_escape(b, v, strlen(v));
  sl_buf_puts(b, "\"");
}

void sl_summary_access_log(const struct sl_request_summary *s, struct sl_buf *b) {
  sl_buf_printf(b, ",\"request_id\":\"%s\",\"method\":\"", s->request_id);
  sl_buf_json_escape(b, s->method.p, s->method.n);
  sl_buf_puts(b, "\",\"path\":\"");
  sl_buf_json_escape(b, s->path.p, s->path.n < 256 ? s->path.n : 256);
  sl_buf_printf(b, "\",\"status\":%d", s->status);
  if (s->group) str_field(b, "model_group", s->group);
  if (s->deployment) str_field(b, "deployment", s->deployment);
  if (s->fallback) str_field(b, "fallback", s->fallback);
  if (s->router) {
    str_field(b, "router", s->router);
    str_field(b, "router_reason", s->router_reason);
    if (s->router_scored) sl_buf_printf(b, ",\"router_score\":%.6f", s->router_score);
    if (s->router_would) str_field(b, "router_would", s->router_would);
  }
  if (s->region) str_field(b, "region", s->region);
  if (s->region_outside_preferred) sl_buf_printf(b, ",\"region_outside_preferred\":%d", s->region_outside_preferred);
  sl_buf_printf(b, ",\"cache\":\"%s\"", sl_cache_state_name(s->cache));
  uint64_t total = s->t_end_ms > s->t0_ms ? s->t_end_ms - s->t0_ms : 0;
  if (s->has_upstream_ms) /* time not spent waiting on the provider */
    sl_buf_printf(b, ",\"overhead_ms\":%llu",
                  (unsigned long long)(total > s->upstream_ms ? total - s->upstream_ms : 0));
  sl_buf_printf(b, ",\"stream\":%s,\"latency_ms\":%llu,\"hedge\":\"%s\"", s->stream ? "true" : "false",
                (unsigned long long)total,
                s->hedge_won      ? "won"
                : s->hedges_fired ? "fired"
                                  : "none");
  if (s->key) str_field(b, "key", s->key);
  if (s->attempts) {
    char cost[32];
    sl_tenancy_format_cost(s->cost_micro, cost);
    sl_buf_printf(b, ",\"tokens_in\":%lld,\"tokens_out\":%lld,\"cost_usd\":%s%s%s", (long long)s->tokens_in,
                  (long long)s->tokens_out, cost, s->usage_estimated ? ",\"usage_estimated\":true" : "",
                  s->usage_implausible ? ",\"usage_implausible\":true" : "");
  }
  if (s->err_code) sl_buf_printf(b, ",\"error\":\"%s\"", s->err_code);
  if (s->attempts && s->attempts_json) {
    sl_buf_puts(b, ",\"attempts\":");
    sl_buf_append(b, s->attempts_json, s->attempts_json_len);
  }
  sl_buf_puts(b, "}");
}
