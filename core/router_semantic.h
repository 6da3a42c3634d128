/* The semantic router's side of the route stage (core/router.c calls it; room-internal).
 * Per worker and router: the routes' utterance vectors (embedded once, at worker start:
 * in-process, or through an embeddings group, kept in DATA_DIR/vectors'
 * "embeddings" database so a restart does not call the provider again), and the decision
 * for one prompt: now (in-process embedder) or after the prompt's embedding call (an
 * embeddings group: the request waits, route_pending, and resumes through
 * sl_request_after_route). Any failure (the call failing or timing out, utterances not yet
 * embedded) sends the request to default_model with reason semantic_default. */
#ifndef SL_CORE_ROUTER_SEMANTIC_H
#define SL_CORE_ROUTER_SEMANTIC_H

#include <stdbool.h>
#include <stddef.h>

struct sl_request;
struct sl_plan_router;
struct sl_group;
struct sl_sem_state;
struct sl_worker;

void sl__sem_state_free(struct sl_sem_state *s);
/* Starts embedding the router's utterances now (worker start), so the first request need
 * not go to the default. */
void sl__sem_warm(struct sl_worker *w, const struct sl_plan_router *r, struct sl_sem_state **sp);

/* Decides for rq on the prompt text[0..n). 1: decided now (*target, *score: NAN when no
 * route was compared; reason: "semantic:<group>" or "semantic_default"); 0: the request
 * waits (rq->route_pending set; the provisional target is the default) and the decision is
 * made in the embedding's callback, which finishes the route stage. *sp: the router's
 * per-worker state, made on first use. */
int sl__sem_decide(struct sl_request *rq, const struct sl_plan_router *r, struct sl_sem_state **sp, const char *text,
                   size_t n, const struct sl_group **target, double *score, char *reason, size_t rlen);

/* router.c: counts the routed request in the router's counters (after a late decision). */
void sl__router_count(struct sl_request *rq);

#endif
