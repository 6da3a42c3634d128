/* The master process: binds the listen address once (so a bad address fails startup
 * and port 0 resolves to one port for all), forks one worker per core, reports
 * readiness, restarts workers that die (backing off if they keep dying) and on
 * SIGTERM/SIGINT drains the workers and exits 0. It runs no event loop: a plain
 * sigtimedwait() loop is all it needs, and it keeps libuv out of the forking parent. */
#ifndef SL_CORE_MASTER_H
#define SL_CORE_MASTER_H

#include "core/config.h"

/* Returns the process exit code. */
int sl_master_run(const struct sl_config *cfg);

#endif
