/* Error bodies and in-band stream errors in either format. The one idea: read whatever
 * shape the upstream used into one small struct (type, message, code, param), then write
 * that struct in the client's shape, with the type mapped through the tables; anything
 * unreadable becomes the message itself, so a client always gets a well-formed error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

#define MAX_RAW_MESSAGE 1000

bool sl__xlate_err_read(const cJSON *root, struct sl__xlate_err *e) {
  memset(e, 0, sizeof *e);
  /* Gemini's OpenAI-compatible endpoint wraps its error in a one-element array:
   * [{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED"}}] */
  if (cJSON_IsArray(root) && cJSON_GetArraySize(root) == 1) root = cJSON_GetArrayItem(root, 0);
  if (!cJSON_IsObject(root)) return false;
  const cJSON *err = sl__xlate_get(root, "error");
  if (cJSON_IsObject(err)) { /* OpenAI {"error":{...}}, Anthropic {"type":"error","error":{...}} */
    e->type = sl__xlate_getstr(err, "type");
    e->message = sl__xlate_getstr(err, "message");
    e->code = sl__xlate_getstr(err, "code");
    e->param = sl__xlate_getstr(err, "param");
  } else if (cJSON_IsString(err)) { /* {"error":"text"} (Ollama, some proxies) */
    e->message = err->valuestring;
  } else {
    e->message = sl__xlate_getstr(root, "message"); /* {"message":..., "type":...} */
    if (!e->message) e->message = sl__xlate_getstr(root, "detail"); /* FastAPI servers */
    e->type = sl__xlate_getstr(root, "type");
    if (e->type && strcmp(e->type, "error") == 0) e->type = NULL;
    e->code = sl__xlate_getstr(root, "code");
  }
  if (e->message) e->message_len = strlen(e->message);
  return e->message != NULL;
}

void sl__xlate_err_write(enum sl_wire client, int status, const struct sl__xlate_err *e, struct sl_buf *out) {
  char msg0[MAX_RAW_MESSAGE + 1]; /* a NUL-terminated copy for the phrase search */
  const char *msg = e->message;
  size_t mlen = e->message_len;
  char fallback[64];
  if (!msg || mlen == 0) {
    snprintf(fallback, sizeof fallback, "Upstream returned HTTP %d", status);
    msg = fallback;
    mlen = strlen(fallback);
  }
  size_t k = mlen < MAX_RAW_MESSAGE ? mlen : MAX_RAW_MESSAGE;
  memcpy(msg0, msg, k);
  msg0[k] = 0;
  if (client == SL_WIRE_ANTHROPIC) {
    sl_buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":");
    sl__xlate_put_jstr(out, sl__xlate_err_type_anth(status, e->type));
    sl_buf_puts(out, ",\"message\":");
    sl__xlate_put_jstrn(out, msg, mlen);
    sl_buf_puts(out, "}}");
    return;
  }
  const char *code = NULL;
  const char *type = sl__xlate_err_type_oai(status, e->type, msg0, &code);
  if (e->code) code = e->code;
  sl_buf_puts(out, "{\"error\":{\"message\":");
  sl__xlate_put_jstrn(out, msg, mlen);
  sl_buf_puts(out, ",\"type\":");
  sl__xlate_put_jstr(out, type);
  sl_buf_puts(out, ",\"param\":");
  sl__xlate_put_jstr(out, e->param);
  sl_buf_puts(out, ",\"code\":");
  sl__xlate_put_jstr(out, code);
  sl_buf_puts(out, "}}");
}

/* Cuts a raw body to at most MAX_RAW_MESSAGE bytes, never inside a UTF-8 sequence, and
 * trims surrounding white space. */
static size_t raw_message(const char *body, size_t len, const char **start) {
  while (len && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t')) body++, len--;
  while (len && (body[len - 1] == ' ' || body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == '\t'))
    len--;
  if (len > MAX_RAW_MESSAGE) {
    len = MAX_RAW_MESSAGE;
    while (len && ((unsigned char)body[len] & 0xC0) == 0x80) len--;
  }
  *start = body;
  return len;
}

int sl_xlate_error_body(enum sl_wire client, int status, const char *body, size_t len, struct sl_buf *out) {
  cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  struct sl__xlate_err e;
  if (!sl__xlate_err_read(root, &e) && body) {
    memset(&e, 0, sizeof e);
    e.message_len = raw_message(body, len, &e.message);
  }
  sl__xlate_err_write(client, status, &e, out);
  cJSON_Delete(root);
  return out->oom ? -ENOMEM : 0;
}

bool sl_xlate_error_wrapped(const char *body, size_t len) {
  while (len && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t')) body++, len--;
  return len && *body == '[';
}

/* Responses: the documented fields (code, message, param) and, nested, the same error
 * as an `error` object: openai-node's stream reader throws an APIError only for data
 * with an `error` member, and the AI SDK accepts both shapes. */
void sl__xlate_resp_error_event(struct sl_buf *out, int seq, int status, const char *type, const char *code,
                                const char *message) {
  char fallback[64];
  if (!message || !message[0]) {
    snprintf(fallback, sizeof fallback, "Upstream returned HTTP %d", status);
    message = fallback;
  }
  const char *c = NULL;
  type = sl__xlate_err_type_oai(status, type, message, &c);
  if (!code) code = c ? c : type;
  sl_buf_printf(out, "event: error\ndata: {\"type\":\"error\",\"sequence_number\":%d,\"code\":", seq);
  sl__xlate_put_jstr(out, code);
  sl_buf_puts(out, ",\"message\":");
  sl__xlate_put_jstr(out, message);
  sl_buf_puts(out, ",\"param\":null,\"error\":{\"type\":");
  sl__xlate_put_jstr(out, type);
  sl_buf_puts(out, ",\"code\":");
  sl__xlate_put_jstr(out, code);
  sl_buf_puts(out, ",\"message\":");
  sl__xlate_put_jstr(out, message);
  sl_buf_puts(out, ",\"param\":null}}\n\n");
}

void sl_xlate_error_event(enum sl_wire client, int status, const char *type, const char *message, const char *code,
                          struct sl_buf *out) {
  if (client == SL_WIRE_RESPONSES) {
    sl__xlate_resp_error_event(out, 0, status, type, code, message);
    return;
  }
  struct sl__xlate_err e = {.type = type, .message = message, .code = code};
  if (message) e.message_len = strlen(message);
  if (client == SL_WIRE_ANTHROPIC) sl_buf_puts(out, "event: error\n");
  sl_buf_puts(out, "data: ");
  sl__xlate_err_write(client, status, &e, out);
  sl_buf_puts(out, "\n\n");
}
