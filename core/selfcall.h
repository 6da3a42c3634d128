/* Calls from a worker to its own listener: a request that sluice makes for itself (an
 * embedding for a semantic route or the semantic cache, a cascade's judge) goes through
 * the front door, so it is balanced, retried, cached, limited and costed like any
 * client's. POST to 127.0.0.1 / ::1 (a wildcard listen host) or the listen host, the
 * port this worker's socket is bound to, TLS when the listener has it (trusting its own
 * certificate), the master key as the bearer token when one is configured. The one idea:
 * the caller hears back exactly once, from the loop (never from inside the call that
 * started it): the status and the answer, or an error code (-ETIMEDOUT at the caller's
 * timeout, -EIO, -EFBIG past 64 MiB, -ECANCELED when the worker stops). To call another
 * endpoint: pass its path. */
#ifndef SL_CORE_SELFCALL_H
#define SL_CORE_SELFCALL_H

#include <stddef.h>
#include <stdint.h>

struct sl_worker;

/* rc 0: the exchange ended (status is the HTTP status, body/len the answer, valid during
 * the call only); rc < 0: no answer (status 0, body NULL). */
typedef void (*sl_selfcall_done)(void *ud, int status, const char *body, size_t len, int rc);

/* POSTs body (taken: freed by the call; NULL is -ENOMEM, reported from the loop) to path. */
void sl_selfcall_post(struct sl_worker *w, const char *path, char *body, size_t len, uint64_t timeout_ms,
                      sl_selfcall_done done, void *ud);
/* Ends every call in flight (each caller hears -ECANCELED) and closes the pool: before
 * the worker's loop ends. */
void sl_selfcall_worker_stop(struct sl_worker *w);

#endif
