/* Responses objects kept and given again: the replay of a whole `response` as the event
 * stream that would have produced it (a cache hit served to a streaming client), and
 * the conversation history behind previous_response_id (what to keep after a response,
 * and how a later request is expanded with it). The one idea: a response's output items
 * are valid input items, so the history is just "input items, then output items" as one
 * JSON array, and expanding is "history, then the new input"; and the replay writes its
 * events with the same writers and in the same order as the live stream
 * (xlate_resp_stream.c), so a replayed response and a streamed one look alike to a
 * client, byte for byte when the stream gave each item in one delta. To extend: a new
 * item type with streamed content gets its events in replay_item(); other items are
 * replayed as added + done. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

/* Sets o[key] = v in place when o has key (keeps member order); frees v otherwise. */
static bool swap(cJSON *o, const char *key, cJSON *v) {
  if (!v) return false;
  if (!cJSON_GetObjectItemCaseSensitive(o, key)) {
    cJSON_Delete(v);
    return true;
  }
  return cJSON_ReplaceItemInObjectCaseSensitive(o, key, v) != 0 || (cJSON_Delete(v), false);
}

/* A copy of part / item with key set to an empty value: the *.added forms. */
static cJSON *emptied(const cJSON *v, const char *key, cJSON *empty, const char *status) {
  cJSON *d = cJSON_Duplicate(v, 1);
  bool ok = d && swap(d, key, empty);
  if (ok && status) ok = swap(d, "status", cJSON_CreateString(status));
  if (!ok) {
    cJSON_Delete(d);
    return NULL;
  }
  return d;
}

static int replay_item(const cJSON *item, int oi, int *seq, struct sl_buf *out) {
  const char *type = sl__xlate_getstr(item, "type"), *id = sl__xlate_getstr(item, "id");
  if (!id) id = "";
  cJSON *added = is(type, "message")         ? emptied(item, "content", cJSON_CreateArray(), "in_progress")
                 : is(type, "reasoning")     ? emptied(item, "summary", cJSON_CreateArray(), "in_progress")
                 : is(type, "function_call") ? emptied(item, "arguments", cJSON_CreateString(""), "in_progress")
                                             : cJSON_Duplicate(item, 1);
  if (!added) return -ENOMEM;
  sl__resp_ev_item(out, seq, "response.output_item.added", oi, added);
  cJSON_Delete(added);
  const cJSON *p;
  int ci = 0;
  if (is(type, "message")) {
    cJSON_ArrayForEach(p, sl__xlate_get(item, "content")) {
      const char *pt = sl__xlate_getstr(p, "type");
      const char *key = is(pt, "output_text") ? "text" : is(pt, "refusal") ? "refusal" : NULL;
      const char *text = key ? sl__xlate_getstr(p, key) : NULL;
      cJSON *pa = key ? emptied(p, key, cJSON_CreateString(""), NULL) : cJSON_Duplicate(p, 1);
      if (!pa) return -ENOMEM;
      sl__resp_ev_part(out, seq, "response.content_part.added", id, oi, ci, pa);
      cJSON_Delete(pa);
      if (key && text && text[0])
        sl__resp_ev_delta(out, seq, is(key, "text") ? "response.output_text.delta" : "response.refusal.delta", id, oi,
                          ci, text, strlen(text));
      if (key)
        sl__resp_ev_done(out, seq, is(key, "text") ? "response.output_text.done" : "response.refusal.done", id, oi, ci,
                         key, text, NULL);
      sl__resp_ev_part(out, seq, "response.content_part.done", id, oi, ci, p);
      ci++;
    }
  } else if (is(type, "reasoning")) {
    cJSON_ArrayForEach(p, sl__xlate_get(item, "summary")) {
      const char *text = sl__xlate_getstr(p, "text");
      cJSON *pa = emptied(p, "text", cJSON_CreateString(""), NULL);
      if (!pa) return -ENOMEM;
      sl__resp_ev_part(out, seq, "response.reasoning_summary_part.added", id, oi, ci, pa);
      cJSON_Delete(pa);
      if (text && text[0])
        sl__resp_ev_delta(out, seq, "response.reasoning_summary_text.delta", id, oi, ci, text, strlen(text));
      sl__resp_ev_done(out, seq, "response.reasoning_summary_text.done", id, oi, ci, "text", text, NULL);
      sl__resp_ev_part(out, seq, "response.reasoning_summary_part.done", id, oi, ci, p);
      ci++;
    }
  } else if (is(type, "function_call")) {
    const char *args = sl__xlate_getstr(item, "arguments"), *name = sl__xlate_getstr(item, "name");
    if (args && args[0])
      sl__resp_ev_delta(out, seq, "response.function_call_arguments.delta", id, oi, -1, args, strlen(args));
    sl__resp_ev_done(out, seq, "response.function_call_arguments.done", id, oi, -1, "arguments", args,
                     name ? name : "");
  }
  sl__resp_ev_item(out, seq, "response.output_item.done", oi, item);
  return out->oom ? -ENOMEM : 0;
}

int sl_xlate_resp_replay(const char *resp, size_t len, const char *id, struct sl_buf *out) {
  cJSON *r = resp && len ? cJSON_ParseWithLength(resp, len) : NULL;
  const cJSON *output = sl__xlate_get(r, "output");
  const char *status = sl__xlate_getstr(r, "status");
  const char *last = is(status, "completed")    ? "response.completed"
                     : is(status, "incomplete") ? "response.incomplete"
                     : is(status, "failed")     ? "response.failed"
                                                : NULL;
  if (!cJSON_IsArray(output) || !last) {
    cJSON_Delete(r);
    return -EBADMSG;
  }
  int rc = 0;
  if (id && !swap(r, "id", cJSON_CreateString(id))) rc = -ENOMEM;
  cJSON *begin = rc ? NULL : cJSON_Duplicate(r, 1);
  if (!rc && (!begin || !swap(begin, "status", cJSON_CreateString("in_progress")) ||
              !swap(begin, "output", cJSON_CreateArray()) || !swap(begin, "usage", cJSON_CreateNull()) ||
              !swap(begin, "error", cJSON_CreateNull()) || !swap(begin, "incomplete_details", cJSON_CreateNull())))
    rc = -ENOMEM;
  int seq = 0;
  if (!rc) {
    sl__resp_ev_response(out, &seq, "response.created", begin);
    sl__resp_ev_response(out, &seq, "response.in_progress", begin);
  }
  const cJSON *item;
  int oi = 0;
  cJSON_ArrayForEach(item, output) {
    if (rc) break;
    rc = replay_item(item, oi++, &seq, out);
  }
  if (!rc) sl__resp_ev_response(out, &seq, last, r);
  cJSON_Delete(begin);
  cJSON_Delete(r);
  if (!rc && out->oom) rc = -ENOMEM;
  return rc;
}

/* Appends req's input to arr: a string as one user message, an array item by item.
 * false when input is neither (or missing: then nothing is added and true). */
static bool add_input(cJSON *arr, const cJSON *req, bool *oom) {
  const cJSON *in = sl__xlate_get(req, "input");
  if (!in || cJSON_IsNull(in)) return true;
  if (cJSON_IsString(in)) {
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddStringToObject(m, "role", "user") || !cJSON_AddStringToObject(m, "content", in->valuestring) ||
        !cJSON_AddItemToArray(arr, m)) {
      cJSON_Delete(m);
      *oom = true;
    }
    return true;
  }
  if (!cJSON_IsArray(in)) return false;
  const cJSON *it;
  cJSON_ArrayForEach(it, in) {
    cJSON *d = cJSON_Duplicate(it, 1);
    if (!d || !cJSON_AddItemToArray(arr, d)) {
      cJSON_Delete(d);
      *oom = true;
      return true;
    }
  }
  return true;
}

int sl_xlate_resp_expand(const cJSON *req, const char *items, size_t len, cJSON **out, char *err, size_t errlen) {
  struct sl_xl x = {0, err, errlen};
  *out = NULL;
  if (err && errlen) err[0] = 0;
  if (!cJSON_IsObject(req)) return sl__xlate_bad(&x, "the request body must be a JSON object");
  cJSON *arr = items && len ? cJSON_ParseWithLength(items, len) : NULL;
  if (!cJSON_IsArray(arr)) {
    cJSON_Delete(arr);
    return sl__xlate_bad(&x, "previous_response_id: the stored conversation is not readable");
  }
  bool oom = false;
  if (!add_input(arr, req, &oom)) {
    cJSON_Delete(arr);
    return sl__xlate_bad(&x, "input: a string or an array of items is required");
  }
  cJSON *root = oom ? NULL : cJSON_Duplicate(req, 1);
  if (!root) {
    cJSON_Delete(arr);
    sl__xlate_oom(&x);
    return x.rc;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(root, "previous_response_id");
  cJSON_DeleteItemFromObjectCaseSensitive(root, "input");
  if (!cJSON_AddItemToObject(root, "input", arr)) {
    cJSON_Delete(arr);
    cJSON_Delete(root);
    sl__xlate_oom(&x);
    return x.rc;
  }
  *out = root;
  return 0;
}

int sl_xlate_resp_history(const cJSON *req, const char *resp, size_t len, struct sl_buf *out) {
  cJSON *r = resp && len ? cJSON_ParseWithLength(resp, len) : NULL;
  const cJSON *output = sl__xlate_get(r, "output");
  cJSON *arr = cJSON_IsArray(output) ? cJSON_CreateArray() : NULL;
  int rc = 0;
  bool oom = false;
  if (!cJSON_IsArray(output))
    rc = -EBADMSG;
  else if (!arr)
    rc = -ENOMEM;
  else if (!add_input(arr, req, &oom))
    rc = -EBADMSG;
  const cJSON *it, *from = rc ? NULL : output;
  cJSON_ArrayForEach(it, from) {
    /* The next turn may go to another deployment: an id (sluice's, or one provider's)
     * means nothing to another, so items go on without ids; a reasoning item is kept only
     * when it carries its own content (encrypted_content: stateless clients), since one
     * without it stands for state kept by the provider that made it. */
    const char *type = sl__xlate_getstr(it, "type");
    if (type && strcmp(type, "reasoning") == 0 && !sl__xlate_getstr(it, "encrypted_content")) continue;
    cJSON *d = cJSON_Duplicate(it, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(d, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(d, "status");
    if (!d || !cJSON_AddItemToArray(arr, d)) {
      cJSON_Delete(d);
      oom = true;
      break;
    }
  }
  if (!rc && oom) rc = -ENOMEM;
  if (!rc) {
    char *s = cJSON_PrintUnformatted(arr);
    if (!s)
      rc = -ENOMEM;
    else {
      sl_buf_puts(out, s);
      cJSON_free(s);
      if (out->oom) rc = -ENOMEM;
    }
  }
  cJSON_Delete(arr);
  cJSON_Delete(r);
  return rc;
}
