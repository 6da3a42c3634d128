/* Google service-account key files (the JSON a console download gives, or what
 * GOOGLE_APPLICATION_CREDENTIALS names): the fields a token exchange needs. The one idea: a
 * strict parser that names the missing or bad field and never echoes the private key into
 * an error. To accept another credential type, add a branch on "type" and its own struct. */
#ifndef SL_NET_WIRE_GCP_SA_H
#define SL_NET_WIRE_GCP_SA_H

#include <stddef.h>

#define SL_GCP_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"

struct sl_gcp_sa {
  char *type, *project_id, *private_key_id, *private_key, *client_email, *token_uri;
};
/* A service-account JSON key file's text -> its fields (type must be "service_account";
 * private_key a PEM; token_uri defaults to https://oauth2.googleapis.com/token). 0, -EINVAL
 * (err names the field), -ENOMEM. On failure out is left empty (nothing to free). */
int sl_gcp_sa_parse(const char *json, size_t n, struct sl_gcp_sa *out, char *err, size_t errlen);
void sl_gcp_sa_free(struct sl_gcp_sa *sa);

#endif
