/* The LMDB environment in data_dir: one file shared by every worker and by any other
 * sluice on the same directory, opened once per process after fork. The one idea: the
 * cache must never stop sluice from serving, so a file that cannot be opened or is
 * corrupt is moved aside (data.mdb.corrupt-<unix time>) and a fresh one is created,
 * and every odd thing that happened is reported in a message for the caller to log.
 *
 * Flags: MDB_NOTLS (read transactions belong to the txn object, not the thread, so a
 * worker keeps one long-lived read txn and resets/renews it per lookup, and the cache
 * writer thread can have its own), MDB_NORDAHEAD (lookups are random), and
 * MDB_NOMETASYNC by default: each commit fdatasyncs the data pages but not the meta
 * page. A killed process (kill -9) can never corrupt the file whatever the sync flags
 * are: LMDB copies on write and a commit only becomes visible when the meta page is
 * written, and the page cache outlives the process. The sync flags only matter when
 * the machine itself crashes; NOMETASYNC then loses at most the last transaction and
 * keeps the file intact. MDB_WRITEMAP|MDB_MAPASYNC (Knot Resolver's choice) is faster
 * but can leave a corrupt file after a power loss and lets a stray pointer write
 * scribble on the database; since all writes here run on a writer thread, the fsync
 * costs the event loop nothing, so sluice takes the safer flags. SL_LMDB_NOSYNC
 * (MDB_NOSYNC) is for tests and benchmarks: still safe against kill -9.
 *
 * Damage the open cannot see (a garbage tree page deep in the file, on which LMDB may
 * fault instead of returning an error) is what sl_lmdb_verify is for: a forked child
 * walks every page, and a file that faults there is moved aside too. A file shorter
 * than its meta page claims is refused at open (it would fault with SIGBUS).
 *
 * Two environments, so that losing the disposable one never costs the one that matters
 * (store/lmdb_tenancy.c): the response cache in DATA_DIR (data.mdb), moved aside and
 * rebuilt empty when damaged; and the tenancy store in DATA_DIR/tenancy/ (virtual keys,
 * the spend ledger), opened with SL_LMDB_TENANCY: damage there is refused and reported,
 * never moved aside, and its file keeps a preallocated reserve so that it can still be
 * written when the disk is full. Directories are made 0700 and files 0600.
 *
 * Named databases (opened in both, so either can serve the functions of the other in
 * tests): "cache" (key -> value), "cache_lru" (key -> access/expiry/size record used for
 * eviction), "cache_stats" (global counters), "keys", "spend" for the key store and
 * the spend ledger, and "responses", "responses_age", "responses_stats" for the stored
 * responses of the Responses API (store/responses.h), "embeddings" (utterance vectors of
 * semantic routes, core/router_semantic.c) and "semcache", "semcache_meta" (the semantic
 * cache's prompt vectors, store/vindex.h), both used in DATA_DIR/vectors, and "feedback",
 * "feedback_age", "learn_state", "learn_snap" for routers' decisions, outcomes and learned
 * state (store/feedback.h; used in DATA_DIR/feedback). */
#ifndef SL_STORE_LMDB_ENV_H
#define SL_STORE_LMDB_ENV_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum {
  SL_LMDB_NOSYNC = 1 << 0,   /* MDB_NOSYNC: no fsync at all (tests, benchmarks) */
  SL_LMDB_TENANCY = 1 << 1,  /* the tenancy store: refuse damage, keep a disk reserve */
  SL_LMDB_CHECK_ONLY = 1 << 2, /* sl_lmdb_verify: report damage, move nothing */
};

/* The tenancy store's map (address space, not disk) and its preallocated reserve. */
#define SL_TENANCY_MAP_SIZE ((size_t)1 << 30)
#define SL_TENANCY_RESERVE ((size_t)4 << 20)

struct sl_lmdb {
  MDB_env *env;
  MDB_dbi dbi_cache, dbi_cache_lru, dbi_cache_stats, dbi_keys, dbi_spend;
  MDB_dbi dbi_resp, dbi_resp_age, dbi_resp_stats; /* store/responses.c */
  MDB_dbi dbi_embed; /* "embeddings": semantic routes' utterance vectors (core/router_semantic.c) */
  MDB_dbi dbi_fb, dbi_fb_age, dbi_fb_state, dbi_fb_snap; /* store/feedback.c */
  MDB_dbi dbi_semcache, dbi_semcache_meta;        /* store/vindex.c (DATA_DIR/vectors) */
  size_t map_size;  /* as configured (the cache's max_size) */
  unsigned psize;   /* page size */
  unsigned flags;   /* SL_LMDB_* as opened */
  char dir[4096];
  /* A second sluice with a bigger map can grow the file past our map; renewing a read
   * txn then fails with MDB_MAP_RESIZED and the map must be re-established with no
   * txn of this process inside it. Readers hold this shared, the remap holds it
   * exclusive. */
  pthread_rwlock_t remap_lock;
  _Atomic bool need_remap;
};

/* Opens (creating dir and the file when missing) the environment in dir with map size
 * map_size (rounded up to whole pages by LMDB; an existing larger file keeps its size),
 * clears stale reader slots, and opens the named databases. Call in each process after
 * fork, never before a fork that the child will use. msg (may be NULL) receives a
 * human-readable note of what happened worth logging (file moved aside, stale readers
 * cleared) or "" when nothing did; on failure it says why. Returns 0 or -errno
 * (-EIO for LMDB-specific failures). */
int sl_lmdb_open(const char *dir, size_t map_size, unsigned flags, struct sl_lmdb **out, char *msg,
                 size_t msglen);
/* A deep check that sl_lmdb_open cannot afford: a child process opens the environment
 * read-only and walks every page of every database (a damaged tree page can make LMDB
 * fault rather than return an error, so the walk runs where a fault is harmless). A
 * cache file that faults or reports damage is moved aside; a tenancy file
 * (SL_LMDB_TENANCY) or any file with SL_LMDB_CHECK_ONLY is only reported. Call only
 * while the process is single-threaded (it forks). Returns 0 (sound, or no file yet),
 * 1 (damaged; msg says so and what was done), -ETIMEDOUT (the walk took longer than
 * timeout_ms; nothing moved), or another -errno. */
int sl_lmdb_verify_flags(const char *dir, size_t map_size, unsigned flags, unsigned timeout_ms, char *msg,
                         size_t msglen);
/* The cache's: sl_lmdb_verify_flags with no flags. */
int sl_lmdb_verify(const char *dir, size_t map_size, unsigned timeout_ms, char *msg, size_t msglen);
/* The same check without waiting (for the master's loop): starts the child and
 * returns its pid (0: no file, nothing to check; -errno). Reap it yourself and pass
 * its wait status to sl_lmdb_verify_finish, which acts as sl_lmdb_verify would and
 * returns what it would. */
int sl_lmdb_verify_start(const char *dir, size_t map_size, unsigned flags, pid_t *pid);
int sl_lmdb_verify_finish(const char *dir, unsigned flags, int wait_status, char *msg, size_t msglen);

/* DATA_DIR/tenancy into out. */
int sl_lmdb_tenancy_dir(const char *data_dir, char *out, size_t n);
/* Upgrade from the single-file layout: when DATA_DIR/data.mdb holds keys or spend
 * records and DATA_DIR/tenancy/ has no store yet, copies them (in a child process)
 * into a new tenancy store, made in DATA_DIR/tenancy.new and renamed into place, then
 * empties them in the old file. Returns 0 (nothing to do), 1 (migrated; msg says what),
 * or -errno (msg says why; nothing was changed). Single-threaded callers only. */
int sl_lmdb_migrate(const char *data_dir, size_t map_size, char *msg, size_t msglen);
/* A compacted copy of the environment in dir (mdb_env_copy2 with MDB_CP_COMPACT),
 * consistent while sluice runs, written to dest.tmp and renamed to dest (0600). */
int sl_lmdb_backup(const char *dir, size_t map_size, const char *dest, char *msg, size_t msglen);
/* Tops the tenancy file's preallocated tail back up to SL_TENANCY_RESERVE beyond the
 * pages in use (a no-op for the cache, or while the reserve is whole). Fails quietly
 * when the disk is full: the rest of the reserve is what keeps commits going. */
void sl_lmdb_reserve(struct sl_lmdb *e);

/* Closes the environment; every user (cache, ...) must have been closed first. */
void sl_lmdb_close(struct sl_lmdb *e);

/* Clears reader slots of dead processes; returns how many (or -errno). */
int sl_lmdb_reader_check(struct sl_lmdb *e);

/* Pages in use: the file's high-water mark minus the pages on the free list, read
 * with the caller's read txn (renewed and reset here). *last is the high-water mark. */
int sl_lmdb_used_pages(struct sl_lmdb *e, MDB_txn *rtxn, size_t *used, size_t *last);

/* Re-establishes the map after MDB_MAP_RESIZED; only when this process has no write
 * txn open. Takes remap_lock exclusively. */
int sl_lmdb_remap(struct sl_lmdb *e);

/* The escape hatch for a map that is full to the last page, where even a delete
 * cannot get the few pages its copy-on-write needs: grows the map by map_size/64, at
 * most to map_size * 17/16 in total. Same locking rule as sl_lmdb_remap. Returns 0,
 * or -ENOSPC when the limit is reached. */
int sl_lmdb_grow(struct sl_lmdb *e);

/* LMDB result -> 0 or -errno. */
int sl_lmdb_err(int rc);
/* True for the results that mean the file itself is damaged. */
bool sl_lmdb_is_corruption(int rc);
/* Creates <data.mdb>.broken so that the next sl_lmdb_open moves the file aside. Used
 * when corruption shows up at run time. A no-op for the tenancy store. */
void sl_lmdb_mark_broken(struct sl_lmdb *e);

#endif
