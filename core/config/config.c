/* The config loader's entry points (core/config.h): read a LiteLLM proxy config.yaml from a
 * file or a string, load it with libyaml's document API, hand the document to the engine
 * (config_engine.c) with the schema (config_schema.c), and free the result.
 * The one idea: a config is parsed and validated completely, in the master, before anything
 * starts; on failure the caller gets one precise message (FILE:LINE[:COL]: key.path: why)
 * and nothing to free. */
#include "core/config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config/config_internal.h"
#include "net/wire/gcp_sa.h"

#define SL_CFG_MAX_FILE (64u << 20)

/* ---- loading ---- */

static int syntax_error(struct sl_cfg_ctx *c, const yaml_parser_t *p) {
  if (p->error == YAML_MEMORY_ERROR)
    return snprintf(c->err, c->errlen, "%s: out of memory reading YAML", c->name), -ENOMEM;
  const char *problem = p->problem ? p->problem : "invalid YAML";
  if (p->error == YAML_READER_ERROR) {
    snprintf(c->err, c->errlen, "%s: YAML error: %s at byte %zu", c->name, problem,
             p->problem_offset);
  } else if (p->context) {
    snprintf(c->err, c->errlen, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu)", c->name,
             p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
             p->context_mark.line + 1);
  } else {
    snprintf(c->err, c->errlen, "%s:%zu:%zu: YAML syntax error: %s", c->name,
             p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
  }
  return -EINVAL;
}

/* Loads the first document; refuses a second one (PyYAML's safe_load does too). */
static int load_document(struct sl_cfg_ctx *c, const char *yaml, size_t len,
                         yaml_document_t *doc) {
  yaml_parser_t p;
  yaml_document_t extra;
  if (!yaml_parser_initialize(&p))
    return -ENOMEM;
  yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
  int rc = 0;
  if (!yaml_parser_load(&p, doc)) {
    rc = syntax_error(c, &p);
    yaml_parser_delete(&p);
    return rc;
  }
  if (!yaml_parser_load(&p, &extra)) {
    rc = syntax_error(c, &p);
  } else {
    yaml_node_t *r = yaml_document_get_root_node(&extra);
    if (r)
      rc = sl_cfg_fail(c, r, NULL, "a second YAML document ('---') is not allowed");
    yaml_document_delete(&extra);
  }
  if (rc)
    yaml_document_delete(doc);
  yaml_parser_delete(&p);
  return rc;
}

static int parse_root(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  yaml_node_t *root = yaml_document_get_root_node(c->doc);
  if (!root || sl_cfg_is_null(root))
    return sl_cfg_fail(c, NULL, NULL,
                       "the configuration is empty; sluice needs a model_list to serve");
  if (root->type != YAML_MAPPING_NODE)
    return sl_cfg_fail(c, root, NULL, "expected a mapping at the top level, got %s",
                       sl_cfg_node_desc(root));
  s->root = root;
  return sl_cfg_parse_section(c, &sl_cfg_root_section, root, "", s);
}

int sl_config_load_string(const char *yaml, size_t len, const char *name,
                          sl_config_warn_fn warn, void *ud, struct sl_config **out, char *err,
                          size_t errlen) {
  yaml_document_t doc;
  struct sl_cfg_ctx c = {.doc = &doc, .name = name ? name : "<string>", .err = err,
                         .errlen = err ? errlen : 0, .warn = warn, .ud = ud};
  struct sl_cfg_scratch s;
  *out = NULL;
  if (err && errlen)
    err[0] = 0;
  if (!yaml)
    yaml = "", len = 0;
  int rc = load_document(&c, yaml, len, &doc);
  if (rc)
    return rc;
  sl_cfg_scratch_init(&s);
  rc = sl_cfg_scratch_defaults(&s);
  if (rc == 0)
    rc = parse_root(&c, &s);
  if (rc == 0 && !(s.c.source = strdup(c.name)))
    rc = -ENOMEM;
  if (rc == 0 && !(*out = malloc(sizeof **out)))
    rc = -ENOMEM;
  if (rc == 0) {
    **out = s.c;
    memset(&s.c, 0, sizeof s.c);
    rc = sl_plan_compile(*out, &(*out)->plan); /* everything is validated: only -ENOMEM */
    if (rc) {
      sl_config_free(*out);
      *out = NULL;
      if (rc == -EINVAL && err && errlen)
        snprintf(err, errlen, "%s: internal error: the configuration could not be compiled", c.name);
    }
  }
  if (rc == -ENOMEM && err && errlen && !err[0]) {
    snprintf(err, errlen, "%s: out of memory", c.name);
  }
  sl_cfg_scratch_clear(&s);
  yaml_document_delete(&doc);
  for (size_t i = 0; i < c.nwarned; i++)
    free(c.warned[i]);
  free(c.warned);
  return rc;
}

static int read_file(const char *path, char **buf, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) < 0)
    rc = -errno;
  else if (S_ISDIR(st.st_mode))
    rc = -EISDIR;
  else if (st.st_size > (off_t)SL_CFG_MAX_FILE)
    rc = -EFBIG;
  size_t cap = rc ? 0 : (size_t)st.st_size + 1, n = 0;
  char *b = rc ? NULL : malloc(cap);
  if (!rc && !b)
    rc = -ENOMEM;
  while (rc == 0) { /* read to EOF: the size may change under us (or be 0 for a pipe) */
    if (n + 1 >= cap) {
      char *nb = cap * 2 > SL_CFG_MAX_FILE ? NULL : realloc(b, cap * 2);
      if (!nb) {
        rc = cap * 2 > SL_CFG_MAX_FILE ? -EFBIG : -ENOMEM;
        break;
      }
      b = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, b + n, cap - n - 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      rc = -errno;
    else if (r == 0)
      break;
    else
      n += (size_t)r;
  }
  close(fd);
  if (rc) {
    free(b);
    return rc;
  }
  b[n] = 0;
  *buf = b;
  *len = n;
  return 0;
}

int sl_config_load_file(const char *path, sl_config_warn_fn warn, void *ud,
                        struct sl_config **out, char *err, size_t errlen) {
  char *buf = NULL;
  size_t len = 0;
  *out = NULL;
  int rc = read_file(path, &buf, &len);
  if (rc) {
    if (err && errlen)
      snprintf(err, errlen, "%s: cannot read config file: %s", path,
               rc == -EFBIG ? "larger than 64 MiB" : strerror(-rc));
    return rc;
  }
  rc = sl_config_load_string(buf, len, path, warn, ud, out, err, errlen);
  free(buf);
  return rc;
}

/* ---- freeing ---- */

void sl_cfg_deployment_clear(struct sl_deployment *d) {
  free(d->model_name);
  free(d->model);
  free(d->provider);
  free(d->upstream_model);
  free(d->wild_name);
  free(d->api_base);
  free(d->api_key);
  free(d->api_version);
  free(d->host);
  free(d->base_path);
  free(d->id);
  free(d->region);
  free(d->responses_api);
  free(d->aws_access_key_id);
  free(d->aws_secret_access_key);
  free(d->aws_session_token);
  free(d->aws_region_name);
  free(d->aws_profile_name);
  free(d->aws_bedrock_runtime_endpoint);
  free(d->vertex_project);
  free(d->vertex_location);
  free(d->vertex_credentials);
  memset(d, 0, sizeof *d);
}

void sl_cfg_config_clear(struct sl_config *c) {
  for (size_t i = 0; i < c->ndeployments; i++)
    sl_cfg_deployment_clear(&c->deployments[i]);
  free(c->deployments);
  for (size_t i = 0; i < c->nrouters; i++)
    sl_cfg_router_clear(&c->routers[i]);
  free(c->routers);
  free(c->master_key);
  free(c->listen_host);
  free(c->budget_duration);
  free(c->data_dir);
  free(c->ca_file);
  free(c->tls_cert);
  free(c->tls_key);
  free(c->log_level);
  free(c->log_file);
  for (size_t i = 0; i < c->naliases; i++) {
    free(c->aliases[i].alias);
    free(c->aliases[i].group);
  }
  free(c->aliases);
  sl_cfg_fallbacks_free(c->fallbacks, c->nfallbacks);
  sl_cfg_fallbacks_free(c->context_window_fallbacks, c->ncontext_window_fallbacks);
  sl_cfg_fallbacks_free(c->content_policy_fallbacks, c->ncontent_policy_fallbacks);
  sl_cfg_names_free(&c->default_fallbacks);
  sl_cfg_names_free(&c->allowed_hosts);
  free(c->cache.type);
  free(c->cache.namespace_);
  free(c->cache.embedding_model);
  free(c->cache.embedding_model_q);
  sl_cfg_tracing_clear(&c->tracing);
  free(c->source);
  sl_cfg_cluster_clear(&c->cluster);
  sl_plan_free(c->plan);
  for (size_t i = 0; i < c->ngcp_creds; i++) sl_gcp_sa_free(&c->gcp_creds[i]);
  free(c->gcp_creds);
  memset(c, 0, sizeof *c);
}

void sl_config_free(struct sl_config *c) {
  if (!c)
    return;
  sl_cfg_config_clear(c);
  free(c);
}
