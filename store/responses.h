/* Stored responses of the Responses API (store: true), so a later request can continue a
 * conversation with previous_response_id and a client can GET or DELETE a response by
 * id. In the shared LMDB environment (database "responses"), written synchronously by
 * the worker that produced the answer (a follow-up may reach another worker a moment
 * later: it must find it), bounded in bytes and kept for a TTL.
 * The one idea: a record is {owner, created, expires, response object, conversation
 * items}, and only its owner (the virtual key's id; "" for the master key or no keys)
 * sees it: another key is told the id does not exist. Expired records read as -ETIME
 * once (then they are gone); space is made by dropping the oldest records first.
 * Time: no clock reads; callers pass now_unix. A store handle belongs to one thread (the
 * worker's loop): open one per process after sl_lmdb_open; writes are synchronous write
 * txns of that thread. Layout and bounds: store/responses.c. */
#ifndef SL_STORE_RESPONSES_H
#define SL_STORE_RESPONSES_H

#include <stddef.h>
#include <stdint.h>

#include "store/lmdb_env.h"

struct sl_resp_store;

struct sl_resp_store_opts {
  int64_t ttl_s;    /* how long a record is kept; default (0) 30 days */
  size_t max_bytes; /* all records together, as sl_resp_store_stats counts them; default (0)
                       1/8 of the map size */
  size_t max_value; /* one record (response + items); default (0) 16 MiB; larger: -E2BIG */
};

struct sl_resp_record {
  char *response;      /* malloc'd, NUL-terminated: the response object */
  size_t response_len;
  char *items;         /* malloc'd, NUL-terminated: the conversation items (JSON array) */
  size_t items_len;
  int64_t created, expires;
};

int sl_resp_store_open(struct sl_lmdb *env, const struct sl_resp_store_opts *o, struct sl_resp_store **out);
void sl_resp_store_close(struct sl_resp_store *s);
/* Stores (or replaces, whoever owned it: ids are minted by sluice) id's record, with
 * created = now_unix. owner NULL means "". 0; -EINVAL (id empty or longer than 255
 * bytes, owner longer than 255); -E2BIG (larger than max_value); -ENOSPC (larger than
 * max_bytes on its own, or no room even after dropping old records); -ENOMEM; -EIO. */
int sl_resp_store_put(struct sl_resp_store *s, const char *id, const char *owner, int64_t now_unix, const char *resp,
                      size_t resp_len, const char *items, size_t items_len);
/* 0 and out filled (free with sl_resp_record_free); -ENOENT (no such id, another
 * owner's, or a damaged record: deleted now); -ETIME (it expired: deleted now); -ENOMEM;
 * -EIO. */
int sl_resp_store_get(struct sl_resp_store *s, const char *id, const char *owner, int64_t now_unix,
                      struct sl_resp_record *out);
/* 0 when deleted; -ENOENT (none, another owner's, or a damaged record: deleted too);
 * -EIO. Takes no clock: an expired record of the owner's is deleted with 0. */
int sl_resp_store_delete(struct sl_resp_store *s, const char *id, const char *owner);
void sl_resp_record_free(struct sl_resp_record *r);
/* Records and bytes held now (for metrics and tests). bytes: per record, its id + a
 * 48-byte header + owner + response + items (the figure max_bytes bounds). */
int sl_resp_store_stats(struct sl_resp_store *s, uint64_t *records, uint64_t *bytes);

#endif
