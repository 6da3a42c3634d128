/* core/dashboard_internal.h: what the dashboard's files share (dashboard.c: the ring,
 * dashboard_api.c: the JSON endpoints, dashboard_stream.c: the SSE stream). Not an API
 * for other rooms. The ring's primitives take the ring itself (not a worker) so a unit
 * test can drive them on plain memory. */
#ifndef SL_CORE_DASHBOARD_INTERNAL_H
#define SL_CORE_DASHBOARD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"
#include "store/shm.h"

struct sl_worker;
struct sl_request;

/* The header line every JSON answer of the dashboard carries. */
#define SL_DASH_NO_STORE "Cache-Control: no-store\r\n"
struct cJSON;

/* Writes rec (its seq is set here) as the next record; returns its sequence number. */
uint64_t sl_dash_ring_write(struct sl_shm_dash *d, const struct sl_dash_rec *rec);
/* Records ever written (the next sequence number). */
uint64_t sl_dash_ring_head(const struct sl_shm_dash *d);
/* Copies record n into out when it is whole and still in the ring: true; false when it
 * was overwritten, is being written, or is not written yet. */
bool sl_dash_ring_read(const struct sl_shm_dash *d, uint64_t n, struct sl_dash_rec *out);
/* The same for the numbers and attempts only (the prefix before the strings: the
 * overview's scans copy a third of each record); the strings of out are left as they were. */
bool sl_dash_ring_read_numbers(const struct sl_shm_dash *d, uint64_t n, struct sl_dash_rec *out);
/* The first `upto` bytes of the record (seq included). */
bool sl_dash_ring_read_part(const struct sl_shm_dash *d, uint64_t n, struct sl_dash_rec *out, size_t upto);
/* Copies records with seq in (after, head), newest first, into out (at most max);
 * their count. *dropped (may be NULL): records in that range that could not be read
 * (overwritten or being written). */
size_t sl_dash_ring_tail(const struct sl_shm_dash *d, uint64_t after, struct sl_dash_rec *out, size_t max,
                         uint64_t *dropped);

/* Appends the JSON of one record (REQ in dashboard.h) to b. */
void sl__dash_req_write(const struct sl_worker *w, const struct sl_dash_rec *r, struct sl_buf *b);
/* The bodies of /ui/api/overview and /ui/api/deployments (cJSON, caller frees). */
struct cJSON *sl__dash_overview(struct sl_worker *w);
struct cJSON *sl__dash_deployments(struct sl_worker *w);

/* The stream (dashboard_stream.c): a /ui/api request ended (its client left, or it was
 * answered): forget it if it was a stream. */
void sl_dashboard_stream_gone(struct sl_request *rq);

#endif
