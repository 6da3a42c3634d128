/* Internals shared by the config loader's files: the key-table engine (config_engine.c) and the
 * schema it runs (config_schema.c). Not an API for other rooms.
 * The one idea: every section of config.yaml is a table of keys (name, type, where the value
 * goes, range); one engine walks a YAML mapping against a table, so unknown keys, type errors,
 * null handling, os.environ/ substitution and duplicate keys are handled in one place, and the
 * schema file holds only tables and the cross-key checks ("finish" hooks). */
#ifndef SL_CORE_CONFIG_INTERNAL_H
#define SL_CORE_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "core/config/config.h"

#define SL_CFG_MAX_KEYS 48
#define SL_CFG_PATH 256

struct sl_cfg_ctx {
  yaml_document_t *doc;
  const char *name; /* file name used in messages */
  char *err;
  size_t errlen;
  sl_config_warn_fn warn;
  void *ud;
  char **warned; /* normalized key paths already warned about */
  size_t nwarned;
  yaml_node_t *cur_key; /* the key whose value is being parsed (for SL_K_FUNC messages) */
};

enum sl_cfg_kind {
  SL_K_STR,   /* char *; plain scalars that YAML types as int/float/bool are refused */
  SL_K_ID,    /* char *; a string or an integer */
  SL_K_ENUM,  /* char *; one of key->choices */
  SL_K_INT,   /* int, in [min, max] */
  SL_K_I64,   /* int64_t, in [min, max] */
  SL_K_NUM,   /* double, >= 0 (> 0 with SL_F_POSITIVE; >= min when min > 0) */
  SL_K_BOOL,  /* bool */
  SL_K_SIZE,  /* size_t bytes, >= min */
  SL_K_DUR,   /* uint64_t milliseconds (> 0 with SL_F_POSITIVE) */
  SL_K_MAP,   /* a nested section parsed into the same target */
  SL_K_FUNC,  /* custom: key->fn parses the value; it gets target + off (off 0: the whole
                 target) */
};

#define SL_F_REQUIRED 1u
#define SL_F_POSITIVE 2u

struct sl_cfg_section;

struct sl_cfg_key {
  const char *name;
  enum sl_cfg_kind kind;
  size_t off; /* offset of the field in the section's target struct */
  int64_t min, max;
  unsigned flags;
  const char *const *choices;          /* SL_K_ENUM, NULL-terminated */
  const struct sl_cfg_section *sub;    /* SL_K_MAP */
  int (*fn)(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field);
};

/* Writing key tables. */
#define SL_CFG_N(a) (sizeof(a) / sizeof((a)[0]))
/* One key-table row: name, kind, field offset, then optional .min/.max/.flags/... */
#define SL_CFG_KEY(n, k, o, ...) {.name = (n), .kind = (k), .off = (o), __VA_ARGS__}
#define SL_CFG_SCR(f) offsetof(struct sl_cfg_scratch, f)

enum sl_cfg_unknown { SL_UNKNOWN_WARN, SL_UNKNOWN_ERROR, SL_UNKNOWN_IGNORE };

struct sl_cfg_section {
  const struct sl_cfg_key *keys;
  size_t nkeys;
  const char *const *known;   /* keys LiteLLM knows that sluice ignores (NULL-terminated) */
  const char *known_note;     /* warning for those, e.g. "not supported yet, ignored" */
  enum sl_cfg_unknown unknown;
  const char *unknown_note;   /* warning for other keys */
  /* Cross-key checks after all keys are read; seen[i] is the value node of keys[i]
   * (NULL when absent or null). */
  int (*finish)(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, void *target,
                yaml_node_t *const *seen);
};

/* Engine (config_engine.c). */
int sl_cfg_parse_section(struct sl_cfg_ctx *c, const struct sl_cfg_section *s, yaml_node_t *map,
                         const char *path, void *target);
int sl_cfg_fail(struct sl_cfg_ctx *c, const yaml_node_t *at, const char *path, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
void sl_cfg_warn(struct sl_cfg_ctx *c, const yaml_node_t *at, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
/* The same, once per (path without indexes, topic): e.g. once per missing key variable. */
void sl_cfg_warn_topic(struct sl_cfg_ctx *c, const yaml_node_t *at, const char *path,
                       const char *topic, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The scalar's text after os.environ/NAME substitution (*env = NAME when substituted). */
int sl_cfg_scalar(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, const char **text,
                  const char **env);
/* A regular file of at most max bytes, read whole into *out (malloc'd, one spare byte for
 * a NUL) and *n: 0; -errno; -EFBIG (not a regular file, or larger); -ENOMEM. For files a
 * config names (router models, route definitions). */
int sl_cfg_read_file(const char *path, size_t max, char **out, size_t *n);
/* A number from lo to hi (a scalar; os.environ/ substitution applies) into *out;
 * otherwise a failure saying "expected <what>, got ..." (what: e.g. "a number from 0 to 1"). */
int sl_cfg_number_in(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, double lo, double hi, const char *what,
                     double *out);
bool sl_cfg_is_null(const yaml_node_t *v);
/* A string value (typed as SL_K_STR keys are: env substitution, YAML-type check) into *out
 * (replacing and freeing what *out held). */
int sl_cfg_string(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, char **out);
/* A mapping's key/value pairs as the engine sees them (duplicates refused, `<<` merged).
 * *out is malloc'd (NULL when empty); free it. */
struct sl_cfg_pair {
  yaml_node_t *k, *v;
};
int sl_cfg_pairs(struct sl_cfg_ctx *c, yaml_node_t *map, const char *path,
                 struct sl_cfg_pair **out, size_t *n);
/* A YAML list of strings ("expected a list of <what>" otherwise): each element (typed and
 * substituted as sl_cfg_string does) goes to each(), which owns the string (keeps or frees
 * it) and returns 0 or the error (naming e and its path ip). */
typedef int (*sl_cfg_each_fn)(struct sl_cfg_ctx *c, yaml_node_t *e, const char *ip, char *s, void *ud);
int sl_cfg_strings(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, const char *what, sl_cfg_each_fn each,
                   void *ud);
const char *sl_cfg_node_desc(const yaml_node_t *v); /* "a mapping", "a list", "a scalar" */
void sl_cfg_path_join(char *buf, const char *base, const char *key);
void sl_cfg_path_index(char *buf, const char *base, size_t i);
size_t sl_cfg_line(const yaml_node_t *n);
void sl_cfg_deployment_clear(struct sl_deployment *d);
void sl_cfg_config_clear(struct sl_config *c); /* frees the fields, not c */

/* Schema (config_schema.c, config_router.c, config_sluice.c). */

/* A fallbacks-style list as read ([{group: [fallback, ...]}, ...]), kept with its YAML nodes
 * until model_list is known and its names can be checked. */
struct sl_cfg_fallbacks {
  struct sl_fallback *v;
  size_t n;
  yaml_node_t **nodes; /* per entry: the group's key node, its value node, each target's node */
  size_t nnodes;
  char path[SL_CFG_PATH]; /* "router_settings.fallbacks"; "" when the key is absent */
};

/* A list of group names (default_fallbacks), likewise. */
struct sl_cfg_names {
  struct sl_name_list l;
  yaml_node_t **nodes; /* the value node, then each name's node */
  size_t nnodes;
  char path[SL_CFG_PATH];
};

enum { SL_CFG_FB_GENERAL, SL_CFG_FB_CONTEXT_WINDOW, SL_CFG_FB_CONTENT_POLICY, SL_CFG_FB_KINDS };

/* One place of config.yaml that may name a Redis (config_cluster.c): the value nodes of its
 * keys, read once every section is known (cache_params counts only with type: redis). */
enum { SL_CFG_REDIS_HOST, SL_CFG_REDIS_PORT, SL_CFG_REDIS_USERNAME, SL_CFG_REDIS_PASSWORD,
       SL_CFG_REDIS_DB, SL_CFG_REDIS_SSL, SL_CFG_REDIS_URL, SL_CFG_REDIS_NFIELDS };
struct sl_cfg_redis_src {
  yaml_node_t *v[SL_CFG_REDIS_NFIELDS]; /* NULL: absent */
  yaml_node_t *url_scalar;  /* coordination_redis written as one URL string */
  yaml_node_t *bad;         /* an unsupported shape's value node (sentinel, cluster nodes) */
  const char *bad_key;      /* its key name */
  yaml_node_t *max_conn;    /* cache_params.max_connections (accepted, ignored) */
  yaml_node_t *map;         /* the section's mapping, for messages */
};
struct sl_cfg_cluster_scratch {
  struct sl_cfg_redis_src coord, cache, router;
  yaml_node_t *ns_node;     /* cache_params.namespace */
  yaml_node_t *settings;    /* sluice_settings.cluster's mapping */
};

struct sl_cfg_scratch {
  struct sl_config c;
  int router_retries, litellm_retries;    /* -1: unset */
  double router_timeout, litellm_timeout; /* -1: unset */
  /* router_settings wins over litellm_settings for these (resolved in finish_root) */
  struct sl_cfg_fallbacks router_fb[SL_CFG_FB_KINDS], litellm_fb[SL_CFG_FB_KINDS];
  struct sl_cfg_names router_default_fb, litellm_default_fb;
  int router_allowed_fails, litellm_allowed_fails; /* -1: unset */
  double router_cooldown, litellm_cooldown;        /* -1: unset */
  double router_stream_timeout;   /* router_settings.stream_timeout; -1: unset */
  double litellm_max_budget;      /* litellm_settings.max_budget; -1: unset */
  char *litellm_budget_duration;  /* litellm_settings.budget_duration; NULL: unset */
  yaml_node_t *litellm_budget_node; /* the litellm_settings mapping (for messages) */
  yaml_node_t **alias_nodes; /* per alias: key node, value node, target node */
  yaml_node_t *cooldown_max_node;
  yaml_node_t *cache_type_node;
  yaml_node_t *cache_emb_node; /* cache_params' embedding model (either spelling), for errors */
  char *listen;
  char *host;
  int port; /* -1: unset */
  yaml_node_t *root;
  yaml_node_t *master_key_node;
  yaml_node_t **id_nodes; /* per deployment: model_info.id node, or the entry */
  yaml_node_t **router_nodes; /* per router: its entry */
  size_t *router_index;       /* per router: its position in model_list */
  struct sl_cfg_cluster_scratch cluster; /* config_cluster.c */
  /* tracing (config_tracing.c) */
  bool tracing_cb;                  /* litellm_settings.*callback* named "otel" */
  yaml_node_t *tracing_cb_node, *tracing_node, *tracing_enabled_node;
  char *tracing_endpoint, *tracing_headers; /* sluice_settings.tracing's, as written */
};
void sl_cfg_scratch_init(struct sl_cfg_scratch *s);
int sl_cfg_scratch_defaults(struct sl_cfg_scratch *s);
extern const struct sl_config sl_cfg_defaults; /* every key's default, in one table */
void sl_cfg_scratch_clear(struct sl_cfg_scratch *s);
extern const struct sl_cfg_section sl_cfg_root_section;
extern const struct sl_cfg_section sl_cfg_router_section;  /* config_router.c */
extern const struct sl_cfg_section sl_cfg_litellm_section; /* config_router.c */
extern const struct sl_cfg_section sl_cfg_sluice_section;  /* config_sluice.c */
/* Cluster mode (config_cluster.c): general_settings.coordination_redis's value, the
 * sluice_settings.cluster section, the cache_params/router_settings keys that name a Redis
 * (their nodes kept until the end), and the resolution after every section is read: the
 * first source that names a Redis, the REDIS_* environment, conflicts, unsupported shapes. */
int sl_cfg_parse_coordination_redis(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field);
int sl_cfg_keep_node(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field);
int sl_cfg_redis_unsupported(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field);
extern const struct sl_cfg_section sl_cfg_cluster_section;
int sl_cfg_cluster_resolve(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s);
void sl_cfg_cluster_clear(struct sl_cluster_settings *cl);
/* Tracing (config_tracing.c): sluice_settings.tracing, litellm_settings.callbacks (and
 * success_callback, failure_callback), and their resolution with the OTEL_* environment. */
extern const struct sl_cfg_section sl_cfg_tracing_section;
int sl_cfg_parse_callbacks(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field);
int sl_cfg_tracing_resolve(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s);
void sl_cfg_tracing_clear(struct sl_tracing *t);
/* After every section is read: LiteLLM's router/litellm precedence, then aliases and fallbacks
 * checked against model_list's groups (config_router.c). */
int sl_cfg_router_resolve(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s);
void sl_cfg_router_scratch_clear(struct sl_cfg_scratch *s);
/* Routers in model_list (config_routers.c): whether an entry is one (litellm_params.model is
 * sluice_router/... or auto_router/...), reading it, and checking its names and loading its
 * model once model_list is known. */
bool sl_cfg_entry_is_router(struct sl_cfg_ctx *c, yaml_node_t *item);
int sl_cfg_parse_router(struct sl_cfg_ctx *c, yaml_node_t *item, const char *path, struct sl_router_cfg *r);
int sl_cfg_routers_resolve(struct sl_cfg_ctx *c, struct sl_config *cfg, yaml_node_t *const *nodes,
                           const size_t *index);
void sl_cfg_router_clear(struct sl_router_cfg *r);
void sl_cfg_fallbacks_free(struct sl_fallback *v, size_t n);
void sl_cfg_names_free(struct sl_name_list *l);
/* A budget period (budget_duration): 0 when text is NULL or a whole number of seconds >= 1
 * (policy/duration.h), else the error naming at's line and path. */
/* Bedrock and Vertex AI (config_cloud.c): a deployment's dialect, endpoint and credentials
 * (from finish_litellm_params), then one credential slot per service account (finish_root). */
int sl_cfg_cloud_finish(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, yaml_node_t *model_node,
                        struct sl_deployment *d);
int sl_cfg_cloud_resolve(struct sl_cfg_ctx *c, struct sl_config *cfg);

int sl_cfg_check_period(struct sl_cfg_ctx *c, yaml_node_t *at, const char *path, const char *text);

/* Wildcard deployments (config_wild.c): checks a deployment's '*'s (finish of a model_list
 * entry), and turns each bare "*" deployment into one per provider with a key (before ids). */
int sl_cfg_wild_check(struct sl_cfg_ctx *c, const char *path, yaml_node_t *name_node, yaml_node_t *params_node,
                      struct sl_deployment *d);
int sl_cfg_wild_expand(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s);

#endif
