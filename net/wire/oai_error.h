/* OpenAI-shaped error bodies, {"error":{"message","type","param","code"}}, and the
 * HTTP reason phrases. Every error a client sees from sluice is built here. */
#ifndef SL_NET_OAI_ERROR_H
#define SL_NET_OAI_ERROR_H

#include "net/base/buf.h"

/* Appends the error JSON (no trailing newline). code may be NULL (-> null). */
void sl_oai_error_append(struct sl_buf *b, const char *message, const char *type, const char *code);
/* The OpenAI error type that matches an HTTP status (e.g. 401 -> authentication_error). */
const char *sl_oai_error_type_for(int status);
const char *sl_http_reason(int status);

#endif
