/* Service-account key files -> struct sl_gcp_sa (see gcp_sa.h). Strict: every field the
 * exchange needs must be a non-empty string; errors name the field and never quote the key. */
#include "net/wire/gcp_sa.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_gcp_sa_free(struct sl_gcp_sa *sa) {
  if (!sa) return;
  if (sa->private_key) {
    volatile char *p = sa->private_key; /* the key does not linger in freed memory */
    for (size_t i = 0; p[i]; i++) p[i] = 0;
  }
  free(sa->type);
  free(sa->project_id);
  free(sa->private_key_id);
  free(sa->private_key);
  free(sa->client_email);
  free(sa->token_uri);
  memset(sa, 0, sizeof *sa);
}

/* Field `name` as a fresh string: -ENOENT when absent (or null), -EINVAL when not a
 * non-empty string without NUL bytes. */
static int field(const cJSON *o, const char *name, char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!v || cJSON_IsNull(v)) return -ENOENT;
  if (!cJSON_IsString(v) || !v->valuestring || !v->valuestring[0]) return -EINVAL;
  if (!(*out = strdup(v->valuestring))) return -ENOMEM;
  return 0;
}

static int need(const cJSON *o, const char *name, char **out, char *err, size_t errlen) {
  int rc = field(o, name, out);
  if (rc == -ENOENT)
    snprintf(err, errlen, "service-account file: \"%s\" is missing", name);
  else if (rc == -EINVAL)
    snprintf(err, errlen, "service-account file: \"%s\" must be a non-empty string", name);
  else if (rc)
    snprintf(err, errlen, "service-account file: out of memory");
  return rc == -ENOENT ? -EINVAL : rc;
}

int sl_gcp_sa_parse(const char *json, size_t n, struct sl_gcp_sa *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (err && errlen) err[0] = 0;
  cJSON *o = cJSON_ParseWithLength(json, n);
  if (!o) {
    snprintf(err, errlen, "service-account file: not valid JSON");
    return -EINVAL;
  }
  if (!cJSON_IsObject(o)) {
    snprintf(err, errlen, "service-account file: expected a JSON object");
    cJSON_Delete(o);
    return -EINVAL;
  }
  int rc = need(o, "type", &out->type, err, errlen);
  if (!rc && strcmp(out->type, "service_account") != 0) {
    /* The type is quoted only when it looks like one (a short lower-case word), so that
     * nothing else of the file (a key pasted in the wrong place) reaches a message. */
    size_t tl = strlen(out->type);
    bool word = tl <= 40;
    for (size_t i = 0; word && i < tl; i++) word = (out->type[i] >= 'a' && out->type[i] <= 'z') || out->type[i] == '_';
    if (word)
      snprintf(err, errlen,
               "service-account file: \"type\" is \"%s\", expected \"service_account\" (user or external-account "
               "credentials are not supported)",
               out->type);
    else
      snprintf(err, errlen, "service-account file: \"type\" must be \"service_account\"");
    rc = -EINVAL;
  }
  if (!rc) rc = need(o, "client_email", &out->client_email, err, errlen);
  if (!rc) {
    rc = field(o, "private_key", &out->private_key);
    if (rc == -ENOENT)
      snprintf(err, errlen, "service-account file: \"private_key\" is missing");
    else if (rc == -EINVAL)
      snprintf(err, errlen, "service-account file: \"private_key\" must be a non-empty string");
    else if (rc)
      snprintf(err, errlen, "service-account file: out of memory");
    if (rc == -ENOENT) rc = -EINVAL;
  }
  if (!rc) {
    const char *k = out->private_key;
    while (*k == ' ' || *k == '\t' || *k == '\r' || *k == '\n') k++;
    if (strncmp(k, "-----BEGIN PRIVATE KEY-----", 27) != 0 || !strstr(k + 27, "-----END PRIVATE KEY-----")) {
      snprintf(err, errlen,
               "service-account file: \"private_key\" is not a PEM PKCS#8 key (a BEGIN PRIVATE KEY ... END "
               "PRIVATE KEY block, as Google's key files have)");
      rc = -EINVAL;
    }
  }
  if (!rc) rc = need(o, "project_id", &out->project_id, err, errlen);
  if (!rc) {
    rc = field(o, "private_key_id", &out->private_key_id);
    if (rc == -ENOENT)
      rc = 0; /* optional: the JWT then has no kid */
    else if (rc == -EINVAL)
      snprintf(err, errlen, "service-account file: \"private_key_id\" must be a non-empty string");
    else if (rc)
      snprintf(err, errlen, "service-account file: out of memory");
  }
  if (!rc) {
    rc = field(o, "token_uri", &out->token_uri);
    if (rc == -ENOENT)
      rc = (out->token_uri = strdup(SL_GCP_DEFAULT_TOKEN_URI)) ? 0 : -ENOMEM;
    else if (rc == -EINVAL)
      snprintf(err, errlen, "service-account file: \"token_uri\" must be a non-empty string");
    if (rc == -ENOMEM) snprintf(err, errlen, "service-account file: out of memory");
    if (!rc && strncmp(out->token_uri, "https://", 8) != 0 && strncmp(out->token_uri, "http://", 7) != 0) {
      snprintf(err, errlen, "service-account file: \"token_uri\" must be an http:// or https:// URL");
      rc = -EINVAL;
    }
  }
  if (!rc) {
    for (const char *p = out->client_email; *p; p++)
      if ((unsigned char)*p < 0x20) {
        snprintf(err, errlen, "service-account file: \"client_email\" holds a control character");
        rc = -EINVAL;
        break;
      }
  }
  cJSON_Delete(o);
  if (rc) sl_gcp_sa_free(out);
  return rc;
}
