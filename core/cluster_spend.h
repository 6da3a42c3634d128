/* Spend across hosts (core/cluster_spend.c): the admin API's side. A view is the other
 * hosts' spend, summed in Redis by one script call: all-time totals and day rows per
 * payer. A host's own spend always comes from its own ledger and shared memory (exact to
 * the last request); the view adds everybody else's, as published at their last tick. */
#ifndef SL_CORE_CLUSTER_SPEND_H
#define SL_CORE_CLUSTER_SPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_worker;
struct sl_cluster_spend_view;

#define SL_CLUSTER_SPEND_TOTAL UINT32_MAX /* the day of an all-time total row */

struct sl_cluster_spend_row {
  unsigned kind; /* enum sl_spend_kind */
  uint64_t id;
  uint32_t day;  /* UTC day (store/spend.h), or SL_CLUSTER_SPEND_TOTAL */
  int64_t micro; /* summed over the other hosts */
};

/* The view, or NULL when Redis could not answer (then: this host's ledger only). Loop thread. */
typedef void (*sl_cluster_spend_cb)(void *ud, struct sl_cluster_spend_view *v);
/* Asks Redis for the other hosts' rows of `kind` (-1: every kind), of payer id (0: every
 * payer), totals only or day rows only. 0: cb will be called (once, later); -1: not in
 * cluster mode or Redis is down now (cb is never called). Loop thread. */
int sl_cluster_spend_fetch(struct sl_worker *w, int kind, uint64_t id, bool totals, sl_cluster_spend_cb cb, void *ud);
/* The other hosts' all-time total of (kind, id); 0 when none (or v NULL). Any thread. */
int64_t sl_cluster_spend_view_total(const struct sl_cluster_spend_view *v, unsigned kind, uint64_t id);
/* Every row of the view (sorted by kind, id, day). */
size_t sl_cluster_spend_view_rows(const struct sl_cluster_spend_view *v, const struct sl_cluster_spend_row **rows);
void sl_cluster_spend_view_free(struct sl_cluster_spend_view *v);
/* True when w is in cluster mode (whether Redis is up or not). */
bool sl_cluster_spend_enabled(const struct sl_worker *w);

/* Parses one published field "<kind>|<16 hex id>|<day>|T" into row (micro not set).
 * 0, or -EINVAL when malformed. Pure. */
int sl_cluster_spend_field_parse(const char *s, size_t n, struct sl_cluster_spend_row *row);
/* Formats row's field into out (at most 40 bytes with the NUL); returns its length. Pure. */
size_t sl_cluster_spend_field_format(const struct sl_cluster_spend_row *row, char out[40]);

#endif
