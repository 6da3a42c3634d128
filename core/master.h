/* The master process: binds the listen sockets once (so a bad address fails startup,
 * port 0 resolves to one port for all, and the sockets outlive any worker), forks one
 * worker per core, tells systemd when every worker listens, restarts workers that die
 * (backing off if they keep dying, their sockets kept open and new connections steered
 * to the workers that accept), reloads the config on SIGHUP by starting a new
 * generation of workers and draining the old one, reopens logs on SIGUSR1, and on
 * SIGTERM/SIGINT drains the workers and exits 0. It runs no event loop: a poll() over a
 * signalfd and the workers' ready pipes is all it needs, and it keeps libuv (and LMDB)
 * out of the forking parent. */
#ifndef SL_CORE_MASTER_H
#define SL_CORE_MASTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config/config.h"

/* Where the config comes from and the command-line overrides, kept so that a reload
 * reads the same file and applies the same flags. */
struct sl_master_opts {
  const char *config_path; /* NULL: the embedded default */
  const char *host;        /* NULL: from the config */
  const char *data_dir;    /* NULL: from the config */
  long port;               /* < 0: from the config */
  long workers;            /* < 0: from the config */
};

/* Loads the config named by o and applies the overrides. Warnings go to the log when
 * json_warnings, else to stderr. Returns 0, or -errno with err filled. */
int sl_master_load_config(const struct sl_master_opts *o, bool json_warnings, struct sl_config **out,
                          char *err, size_t errlen);

/* Runs the master; takes ownership of cfg (loaded from o). Returns the exit code. */
int sl_master_run(struct sl_config *cfg, const struct sl_master_opts *o);
/* How many workers a config asks for: `workers`, else one per core, within 1..SL_SHM_MAX_WORKERS
 * (what the master forks; budgets split per worker divide by it). */
unsigned sl_master_workers(const struct sl_config *cfg);

/* A page shared by the master and every generation of workers (it outlives a reload,
 * unlike struct sl_shm). A worker asks for a reload by taking a ticket
 * (++reload_requested) and sending SIGHUP; the master answers every ticket it has seen
 * when it starts a reload by storing the outcome and then reload_done = that ticket
 * count. The outcome is guarded by a sequence lock (odd while being written). */
#define SL_RELOAD_MSG 256
struct sl_master_ctl {
  _Atomic int32_t master_pid;
  _Atomic uint32_t generation;     /* of the serving workers; 0 at startup */
  _Atomic uint64_t reload_requested;
  _Atomic uint64_t reload_done;
  _Atomic uint32_t result_seq;
  int32_t result_status;           /* 0, -EINVAL (invalid config), -EIO (workers failed) */
  char result_msg[SL_RELOAD_MSG];
};

/* Reads the last reload outcome consistently. */
void sl_master_ctl_result(struct sl_master_ctl *ctl, int *status, char *msg, size_t msglen);

#endif
