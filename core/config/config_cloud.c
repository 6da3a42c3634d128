/* Bedrock and Vertex AI deployments at load, as LiteLLM users write them: which dialect a
 * model means (net/wire/provider.h), where its endpoint is, and whose credentials sign or
 * authorise it. Each value comes from litellm_params first (aws_* / vertex_*, os.environ/
 * allowed), then the environment (AWS_* / VERTEXAI_* / GOOGLE_APPLICATION_CREDENTIALS), then
 * (AWS) the shared credentials and config files of aws_profile_name / AWS_PROFILE. Missing
 * credentials are a warning (the provider then answers 403/401, as with a missing api_key);
 * a credential file that cannot be read or parsed is an error at its FILE:LINE.
 * The one idea: every decision is made here, once; the request path (core/dialect.c) only
 * reads the deployment's fields. To add a cloud provider: a dialect, a finish function here
 * called from sl_cfg_cloud_finish, and its request side in core/dialect.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config_internal.h"
#include "net/wire/aws_creds.h"
#include "net/wire/gcp_sa.h"

#define MAX_CRED_FILE (1 << 20)

static const char *env(const char *a, const char *b) {
  const char *v = getenv(a);
  if ((!v || !*v) && b) v = getenv(b);
  return v && *v ? v : NULL;
}

/* *field = v when *field is unset (NULL or ""); 0 or -ENOMEM. */
static int fill(char **field, const char *v) {
  if (*field && **field) return 0;
  if (!v) return 0;
  free(*field);
  return (*field = strdup(v)) ? 0 : -ENOMEM;
}

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* ---- Bedrock ---- */

/* "converse/<id>", "invoke/<id>", "<id>": the dialect and the model id. */
static int bedrock_dialect(struct sl_cfg_ctx *c, yaml_node_t *at, const char *kp, struct sl_deployment *d) {
  char *m = d->upstream_model;
  bool invoke = false;
  size_t skip = 0;
  if (starts(m, "converse/")) skip = 9;
  else if (starts(m, "invoke/")) skip = 7, invoke = true;
  if (skip) memmove(m, m + skip, strlen(m + skip) + 1);
  if (!*m) return sl_cfg_fail(c, at, kp, "expected bedrock/<model id>, got '%s'", d->model);
  /* a cross-region inference profile ("us.anthropic...") names the same model family */
  const char *fam = m;
  for (const char *geo[] = {"us.", "eu.", "apac.", "us-gov.", "global.", NULL}, **g = geo; *g; g++)
    if (starts(fam, *g)) fam += strlen(*g);
  if (starts(fam, "amazon.titan-embed")) {
    d->dialect = SL_DIALECT_BEDROCK_EMBED_TITAN;
  } else if (starts(fam, "cohere.embed")) {
    d->dialect = SL_DIALECT_BEDROCK_EMBED_COHERE;
  } else if (invoke) {
    if (!starts(fam, "anthropic."))
      return sl_cfg_fail(c, at, kp,
                         "bedrock/invoke/ speaks the Anthropic Messages body (anthropic.* models); "
                         "use bedrock/converse/%s for '%s'", m, m);
    d->dialect = SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC;
  } else {
    d->dialect = SL_DIALECT_BEDROCK_CONVERSE;
  }
  return 0;
}

/* The shared credentials file, then the config file, of the profile. */
static int aws_profile(struct sl_cfg_ctx *c, yaml_node_t *map, const char *path, struct sl_deployment *d,
                       const char *profile, bool named) {
  const char *home = getenv("HOME");
  char def_creds[4096], def_conf[4096];
  snprintf(def_creds, sizeof def_creds, "%s/.aws/credentials", home ? home : "");
  snprintf(def_conf, sizeof def_conf, "%s/.aws/config", home ? home : "");
  const char *files[2] = {env("AWS_SHARED_CREDENTIALS_FILE", NULL), env("AWS_CONFIG_FILE", NULL)};
  if (!files[0]) files[0] = def_creds;
  if (!files[1]) files[1] = def_conf;
  bool found = false;
  for (int i = 0; i < 2; i++) {
    char *b = NULL;
    size_t n = 0;
    int rc = sl_cfg_read_file(files[i], MAX_CRED_FILE, &b, &n);
    if (rc == -ENOMEM) return rc;
    if (rc) continue; /* no such file: the other, or nothing */
    struct sl_aws_profile p;
    char err[256] = "";
    memset(&p, 0, sizeof p);
    rc = sl_aws_profile_parse(b, n, profile, i == 1, &p, err, sizeof err);
    free(b);
    if (rc == -EINVAL) {
      char kp[SL_CFG_PATH];
      sl_cfg_path_join(kp, path, "aws_profile_name");
      return sl_cfg_fail(c, map, kp, "'%s': %s", files[i], err);
    }
    if (rc) continue;
    found = true;
    if (!d->aws_access_key_id && p.access_key_id[0] && p.secret_access_key[0]) {
      if ((rc = fill(&d->aws_access_key_id, p.access_key_id)) || (rc = fill(&d->aws_secret_access_key, p.secret_access_key)) ||
          (p.session_token[0] && (rc = fill(&d->aws_session_token, p.session_token))))
        return rc;
    }
    if (p.region[0] && (rc = fill(&d->aws_region_name, p.region))) return rc;
  }
  if (!found && named) {
    char kp[SL_CFG_PATH];
    sl_cfg_path_join(kp, path, "aws_profile_name");
    return sl_cfg_fail(c, map, kp, "profile '%s' is in neither '%s' nor '%s'", profile, files[0], files[1]);
  }
  return 0;
}

static int bedrock_finish(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, yaml_node_t *model_node,
                          struct sl_deployment *d) {
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, path, "model");
  int rc = bedrock_dialect(c, model_node, kp, d);
  if (rc) return rc;
  /* Credentials: an API key (Bearer), else a key pair: litellm_params, then the environment,
   * then the profile (aws_profile_name, AWS_PROFILE, default). */
  if (d->api_key && !d->api_key[0]) {
    free(d->api_key);
    d->api_key = NULL;
  }
  bool pair = d->aws_access_key_id && d->aws_secret_access_key;
  if (!d->api_key && !pair && (rc = fill(&d->api_key, env("AWS_BEARER_TOKEN_BEDROCK", NULL)))) return rc;
  if (!d->api_key && !pair && env("AWS_ACCESS_KEY_ID", NULL) && env("AWS_SECRET_ACCESS_KEY", NULL)) {
    if ((rc = fill(&d->aws_access_key_id, env("AWS_ACCESS_KEY_ID", NULL))) ||
        (rc = fill(&d->aws_secret_access_key, env("AWS_SECRET_ACCESS_KEY", NULL))) ||
        (rc = fill(&d->aws_session_token, env("AWS_SESSION_TOKEN", NULL))))
      return rc;
    pair = true;
  }
  if (!d->aws_region_name && (rc = fill(&d->aws_region_name, env("AWS_REGION", "AWS_DEFAULT_REGION")))) return rc;
  if (!d->aws_region_name && (rc = fill(&d->aws_region_name, env("AWS_REGION_NAME", NULL)))) return rc;
  const char *profile = d->aws_profile_name ? d->aws_profile_name : env("AWS_PROFILE", NULL);
  if ((!d->api_key && !pair) || !d->aws_region_name) {
    if ((rc = aws_profile(c, map, path, d, profile ? profile : "default", d->aws_profile_name != NULL))) return rc;
    pair = d->aws_access_key_id && d->aws_secret_access_key;
  }
  if ((d->aws_access_key_id != NULL) != (d->aws_secret_access_key != NULL)) {
    sl_cfg_path_join(kp, path, d->aws_access_key_id ? "aws_secret_access_key" : "aws_access_key_id");
    return sl_cfg_fail(c, map, kp, "missing: aws_access_key_id and aws_secret_access_key go together");
  }
  if (!d->aws_region_name) {
    sl_cfg_path_join(kp, path, "aws_region_name");
    return sl_cfg_fail(c, map, kp,
                       "missing, and neither AWS_REGION nor AWS_DEFAULT_REGION nor the profile's region is set "
                       "(Bedrock's endpoint is per region, e.g. us-east-1)");
  }
  if (!sl_policy_region_name_ok(d->aws_region_name, strlen(d->aws_region_name))) {
    sl_cfg_path_join(kp, path, "aws_region_name");
    return sl_cfg_fail(c, map, kp, "expected an AWS region name such as us-east-1, got '%.80s'", d->aws_region_name);
  }
  if (!d->api_key && !pair) {
    sl_cfg_path_join(kp, path, "aws_access_key_id");
    sl_cfg_warn_topic(c, map, kp, "AWS_ACCESS_KEY_ID",
                      "not set, and neither AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_BEARER_TOKEN_BEDROCK nor a "
                      "profile in ~/.aws/credentials gives credentials; requests to Bedrock go unsigned "
                      "(instance roles and SSO are not read)");
  }
  /* The endpoint: api_base, else aws_bedrock_runtime_endpoint, else the region's. */
  if (!d->api_base && d->aws_bedrock_runtime_endpoint && (rc = fill(&d->api_base, d->aws_bedrock_runtime_endpoint)))
    return rc;
  if (!d->api_base && asprintf(&d->api_base, "https://bedrock-runtime.%s.amazonaws.com", d->aws_region_name) < 0) {
    d->api_base = NULL;
    return -ENOMEM;
  }
  return 0;
}

/* ---- Vertex AI ---- */

/* vertex_credentials (a JSON text, or a file naming one) else GOOGLE_APPLICATION_CREDENTIALS:
 * kept as the JSON text (sl_cfg_cloud_resolve shares one slot per service account). */
static int vertex_credentials(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, struct sl_deployment *d) {
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, path, "vertex_credentials");
  const char *v = d->vertex_credentials, *from = kp;
  if (!v || !*v) {
    v = env("GOOGLE_APPLICATION_CREDENTIALS", NULL);
    from = "GOOGLE_APPLICATION_CREDENTIALS";
  }
  if (!v) {
    sl_cfg_warn_topic(c, map, kp, "GOOGLE_APPLICATION_CREDENTIALS",
                      "not set and GOOGLE_APPLICATION_CREDENTIALS is not set; requests to Vertex AI go without "
                      "a token (only service-account keys are read: not the metadata server, not gcloud's user "
                      "credentials)");
    free(d->vertex_credentials);
    d->vertex_credentials = NULL;
    return 0;
  }
  const char *p = v;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  char *text = NULL;
  size_t n = 0;
  if (*p == '{') {
    if (!(text = strdup(p))) return -ENOMEM;
    n = strlen(text);
  } else {
    char full[4096];
    const char *slash = strrchr(c->name, '/');
    if (p[0] != '/' && slash && c->name[0] != '<' && from == kp) /* relative to the config file */
      snprintf(full, sizeof full, "%.*s/%s", (int)(slash - c->name), c->name, p);
    else
      snprintf(full, sizeof full, "%s", p);
    int rc = sl_cfg_read_file(full, MAX_CRED_FILE, &text, &n);
    if (rc == -ENOMEM) return rc;
    if (rc)
      return sl_cfg_fail(c, map, kp, "cannot read the service-account key file '%s' (from %s): %s", full, from,
                         rc == -EFBIG ? "not a regular file of at most 1 MiB" : strerror(-rc));
    text[n] = 0;
  }
  struct sl_gcp_sa sa;
  char err[256] = "";
  memset(&sa, 0, sizeof sa);
  int rc = sl_gcp_sa_parse(text, n, &sa, err, sizeof err);
  if (rc == -ENOMEM) {
    free(text);
    return rc;
  }
  if (rc) {
    free(text);
    return sl_cfg_fail(c, map, kp, "not a usable service-account key (from %s): %s", from, err);
  }
  if (!d->vertex_project && sa.project_id && (rc = fill(&d->vertex_project, sa.project_id))) {
    sl_gcp_sa_free(&sa);
    free(text);
    return rc;
  }
  sl_gcp_sa_free(&sa);
  free(d->vertex_credentials);
  d->vertex_credentials = text;
  return 0;
}

static int vertex_finish(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, struct sl_deployment *d) {
  char kp[SL_CFG_PATH];
  int rc = vertex_credentials(c, path, map, d);
  if (rc) return rc;
  if ((rc = fill(&d->vertex_project, env("VERTEXAI_PROJECT", "VERTEX_PROJECT")))) return rc;
  if ((rc = fill(&d->vertex_location, env("VERTEXAI_LOCATION", "VERTEX_LOCATION")))) return rc;
  if ((rc = fill(&d->vertex_location, "us-central1"))) return rc;
  if (!d->vertex_project) {
    sl_cfg_path_join(kp, path, "vertex_project");
    return sl_cfg_fail(c, map, kp, "missing, and neither VERTEXAI_PROJECT nor the service account's project_id "
                                   "names the Google Cloud project");
  }
  if (!sl_policy_region_name_ok(d->vertex_location, strlen(d->vertex_location))) {
    sl_cfg_path_join(kp, path, "vertex_location");
    return sl_cfg_fail(c, map, kp, "expected a location such as us-central1 or global, got '%.80s'", d->vertex_location);
  }
  for (const char *q = d->vertex_project; *q; q++)
    if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == ':' || *q == '.')) {
      sl_cfg_path_join(kp, path, "vertex_project");
      return sl_cfg_fail(c, map, kp, "expected a Google Cloud project id, got '%.80s'", d->vertex_project);
    }
  /* Claude speaks Anthropic's Messages body through rawPredict; every other model goes to
   * the OpenAI-compatible endpoint, named "<publisher>/<model>" there (google/ by default). */
  const char *m = d->upstream_model;
  if (starts(m, "claude")) {
    d->dialect = SL_DIALECT_VERTEX_ANTHROPIC;
  } else {
    d->dialect = SL_DIALECT_VERTEX_OPENAI;
    if (!strchr(m, '/')) {
      char *g;
      if (asprintf(&g, "google/%s", m) < 0) return -ENOMEM;
      free(d->upstream_model);
      d->upstream_model = g;
    }
  }
  if (!d->api_base) {
    bool global = strcmp(d->vertex_location, "global") == 0;
    if ((global ? asprintf(&d->api_base, "https://aiplatform.googleapis.com")
                : asprintf(&d->api_base, "https://%s-aiplatform.googleapis.com", d->vertex_location)) < 0) {
      d->api_base = NULL;
      return -ENOMEM;
    }
  }
  return 0;
}

int sl_cfg_cloud_finish(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, yaml_node_t *model_node,
                        struct sl_deployment *d) {
  d->gcp_cred = -1;
  if (strcmp(d->ops->name, "bedrock") == 0) return bedrock_finish(c, path, map, model_node, d);
  if (strcmp(d->ops->name, "vertex_ai") == 0) return vertex_finish(c, path, map, d);
  return 0;
}

/* One credential slot per service account (client_email + private_key_id), config order. */
int sl_cfg_cloud_resolve(struct sl_cfg_ctx *c, struct sl_config *cfg) {
  (void)c;
  for (size_t i = 0; i < cfg->ndeployments; i++) {
    struct sl_deployment *d = &cfg->deployments[i];
    d->gcp_cred = -1;
    if (!d->vertex_credentials) continue;
    struct sl_gcp_sa sa;
    char err[256];
    memset(&sa, 0, sizeof sa);
    int rc = sl_gcp_sa_parse(d->vertex_credentials, strlen(d->vertex_credentials), &sa, err, sizeof err);
    if (rc) return rc == -ENOMEM ? rc : -EINVAL; /* parsed once already in vertex_credentials() */
    size_t k = 0;
    for (; k < cfg->ngcp_creds; k++)
      if (strcmp(cfg->gcp_creds[k].client_email, sa.client_email) == 0 &&
          strcmp(cfg->gcp_creds[k].private_key_id ? cfg->gcp_creds[k].private_key_id : "",
                 sa.private_key_id ? sa.private_key_id : "") == 0)
        break;
    if (k < cfg->ngcp_creds) {
      sl_gcp_sa_free(&sa);
    } else {
      struct sl_gcp_sa *v = realloc(cfg->gcp_creds, (cfg->ngcp_creds + 1) * sizeof *v);
      if (!v) {
        sl_gcp_sa_free(&sa);
        return -ENOMEM;
      }
      cfg->gcp_creds = v;
      cfg->gcp_creds[cfg->ngcp_creds++] = sa;
    }
    d->gcp_cred = (int)k;
  }
  return 0;
}
