/* Looking after the two LMDB environments from outside the workers: the master's checks
 * at startup and after a worker crash, and the `sluice store check|backup` commands.
 * The one idea: the cache is disposable and the tenancy store is not. A damaged cache is
 * moved aside and rebuilt empty; a damaged tenancy store stops sluice from starting with
 * a message that says how to recover (restore a backup), and is never replaced by an
 * empty one. The check after a crash runs in a child the master reaps from its loop, so
 * restarts and signals never wait for it. */
#ifndef SL_CORE_STORECTL_H
#define SL_CORE_STORECTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sl_config;

/* At startup, before any worker: moves keys and spend out of an old single-file store
 * (store/lmdb_tenancy.c), checks the cache (damage: moved aside) and the tenancy store
 * (damage: refuse). Returns 0 to go on, 1 to refuse (the reason is on stderr and in the
 * log). */
int sl_storectl_startup(const struct sl_config *cfg);

/* The check after a worker died of SIGSEGV/SIGBUS: the cache, then the tenancy store,
 * each walked in a child process. */
struct sl_storectl_crash {
  pid_t pid;        /* of the running check; 0: none */
  int stage;        /* 0: the cache, 1: the tenancy store */
  bool again;       /* another crash came while checking: check once more */
  uint64_t deadline_ms;
  char data_dir[4096];
  size_t cache_map;
  bool cache_enabled;
};
/* Starts a check (or asks for one more after the running one). */
void sl_storectl_crash_begin(struct sl_storectl_crash *c, const struct sl_config *cfg);
/* pid was reaped with status: true if it was the check's (then handled). */
bool sl_storectl_crash_reaped(struct sl_storectl_crash *c, pid_t pid, int status);
/* Kills a check that ran past its deadline; lowers *wake to the deadline. */
void sl_storectl_crash_tick(struct sl_storectl_crash *c, uint64_t now_ms, uint64_t *wake);

/* `sluice store check [--data-dir DIR]`, `sluice store backup [--data-dir DIR] DEST`:
 * argv[0] is "store". Returns the exit code. */
int sl_storectl_cli(int argc, char **argv);

#endif
