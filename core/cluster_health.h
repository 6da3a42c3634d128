/* Cooldowns across hosts (cluster mode; core/cluster_health.c): a deployment cooled down
 * on one host is cooled down on every host, and the half-open probe after a cooldown is
 * sent by one host of the cluster. The hooks below are called by core/health_shm.c on
 * the request path; they only queue Redis commands (never wait). */
#ifndef SL_CORE_CLUSTER_HEALTH_H
#define SL_CORE_CLUSTER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/health.h"

struct sl_worker;
struct sl_buf;

/* dep entered (or lengthened) a cooldown on this host: remaining_ms from now, len_ms its
 * length, kind the failure that caused it; probe: it was this host's probe that failed. */
void sl_cluster_health_cooldown(struct sl_worker *w, size_t dep, uint64_t remaining_ms, uint64_t len_ms,
                                enum sl_failure_kind kind, bool probe);
/* dep's probe succeeded on this host (half-open -> closed). */
void sl_cluster_health_recovered(struct sl_worker *w, size_t dep);

/* The "<ns>:health" message: JSON, one object,
 *   {"v":1,"t":"cool","dep":ID,"ms":REMAINING,"len":LEN,"why":"rate_limit","from":INSTANCE}
 *   {"v":1,"t":"up","dep":ID,"from":INSTANCE}
 * Times are durations (every host has its own monotonic clock). */
enum sl_health_msg_type { SL_HMSG_COOL = 1, SL_HMSG_UP = 2 };
#define SL_HMSG_ID_MAX   256
#define SL_HMSG_FROM_MAX 128
#define SL_HMSG_MS_MAX   86400000000ull /* 1000 days: anything longer is not a cooldown */
struct sl_health_msg {
  enum sl_health_msg_type type;
  char dep[SL_HMSG_ID_MAX];    /* the deployment's config id (model_info.id or "<group>-<n>") */
  uint64_t remaining_ms;       /* cool: from when it is sent */
  uint64_t len_ms;             /* cool: the cooldown's length (its doubling base) */
  enum sl_failure_kind why;    /* cool */
  char from[SL_HMSG_FROM_MAX]; /* the sending host's instance id */
};
/* Its names table: "error", "rate_limit", "auth". */
const char *sl_health_failure_name(enum sl_failure_kind k);
/* Encodes m into out (NUL-terminated); its length, or -ENOSPC / -EINVAL / -ENOMEM. */
int sl_cluster_health_msg_encode(const struct sl_health_msg *m, char *out, size_t cap);
/* Decodes one message; 0, or -EINVAL for anything that is not one (unknown type, a field
 * missing, of the wrong type, too long or out of range). */
int sl_cluster_health_msg_decode(const char *p, size_t n, struct sl_health_msg *m);

/* sluice_cluster_cooldowns_{published,applied}_total, sluice_cluster_recoveries_applied_total,
 * sluice_cluster_probe_claims_total{result}; appended to b (cluster mode only). */
void sl_cluster_health_metrics(const struct sl_worker *w, struct sl_buf *b);

#endif
