/* The providers' model lists behind GET /v1/models, per worker (see core/wild_models.c). */
#ifndef SL_CORE_WILD_MODELS_H
#define SL_CORE_WILD_MODELS_H

struct sl_worker;

/* Starts listing (when the config has listable wildcard deployments and
 * sluice_settings.wildcard_models_refresh is not 0): the first round at once, then one per
 * period; w->models_json follows the lists. */
void sl_wild_models_worker_start(struct sl_worker *w);
/* Cancels what is in flight, puts the plan's body back; before the worker's pools go. */
void sl_wild_models_worker_stop(struct sl_worker *w);

#endif
