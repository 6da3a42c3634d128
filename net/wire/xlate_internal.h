/* Shared inside the wire-format translators (net/wire/xlate_*.c); not an API for other
 * rooms. The one idea: building a JSON tree has a sticky failure state, like sl_buf's
 * oom, so a translator adds members freely (a NULL parent after a failure is fine) and
 * checks once at the end; and every vocabulary difference is a table lookup. */
#ifndef SL_NET_XLATE_INTERNAL_H
#define SL_NET_XLATE_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"
#include "net/wire/sse.h"
#include "net/wire/xlate.h"

/* A translation in progress. rc: 0, -EINVAL (the input cannot be translated; err holds
 * why) or -ENOMEM. The first failure wins. */
struct sl_xl {
  int rc;
  char *err;
  size_t errlen;
};

int sl__xlate_bad(struct sl_xl *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl__xlate_oom(struct sl_xl *x);

/* Reading: NULL-safe lookups on objects (case-sensitive). */
const cJSON *sl__xlate_get(const cJSON *o, const char *key);
const char *sl__xlate_getstr(const cJSON *o, const char *key);     /* NULL unless a string */
bool sl__xlate_getnum(const cJSON *o, const char *key, double *v); /* false unless a number */
int64_t sl__xlate_getint(const cJSON *o, const char *key);         /* 0 unless a finite number; clamped */
bool sl__xlate_getidx(const cJSON *o, const char *key, int *v);    /* an integer in [0, 1e6] */

/* Building: attach item under key (object parent) or at the end (array parent, key
 * NULL). Takes ownership of item; on any failure (item NULL, parent NULL, earlier
 * failure) the item is deleted, x->rc set to -ENOMEM unless already set, NULL returned. */
cJSON *sl__xlate_put(struct sl_xl *x, cJSON *parent, const char *key, cJSON *item);
cJSON *sl__xlate_add_obj(struct sl_xl *x, cJSON *parent, const char *key);
cJSON *sl__xlate_add_arr(struct sl_xl *x, cJSON *parent, const char *key);
cJSON *sl__xlate_add_str(struct sl_xl *x, cJSON *parent, const char *key, const char *s);
cJSON *sl__xlate_add_num(struct sl_xl *x, cJSON *parent, const char *key, double v);
cJSON *sl__xlate_add_bool(struct sl_xl *x, cJSON *parent, const char *key, bool v);
cJSON *sl__xlate_add_null(struct sl_xl *x, cJSON *parent, const char *key);
cJSON *sl__xlate_add_copy(struct sl_xl *x, cJSON *parent, const char *key, const cJSON *v);
/* A new Chat Completions request tree {"model": o->model (else req's), "messages": []}
 * for the translators that make one; *msgs gets the array. NULL when req names no model
 * (x->rc -EINVAL) or out of memory. */
cJSON *sl__xlate_chat_root(struct sl_xl *x, const cJSON *req, const struct sl_xlate_req_opts *o, cJSON **msgs);
/* Appends the unformatted text of root to out; sets x->rc on failure. */
void sl__xlate_print(struct sl_xl *x, const cJSON *root, struct sl_buf *out);

/* Direct JSON writing for the stream translators. */
void sl__xlate_put_jstr(struct sl_buf *b, const char *s); /* "escaped" or null when s is NULL */
void sl__xlate_put_jstrn(struct sl_buf *b, const char *s, size_t n);
void sl__xlate_put_json(struct sl_buf *b, const cJSON *v); /* printed value; null when v is NULL */

/* A data URL "data:<media type>[;params];base64,<data>": the media type and the
 * payload, as slices of url. false when url is not a base64 data URL. */
bool sl__xlate_data_url(const char *url, const char **type, size_t *type_len, const char **data);

/* JSON text -> an object to put as tool input: parsed when it is a JSON object, else a
 * new empty object (lenient; see xlate.h). NULL only when out of memory. */
cJSON *sl__xlate_parse_args(const char *s);

/* ---- tables (xlate_tables.c) ---- */

enum sl__xlate_role { SL_XL_ROLE_UNKNOWN, SL_XL_ROLE_SYSTEM, SL_XL_ROLE_USER, SL_XL_ROLE_ASSISTANT,
                  SL_XL_ROLE_TOOL, SL_XL_ROLE_UNSUPPORTED };
/* An OpenAI message role -> what it becomes in the Anthropic format. */
enum sl__xlate_role sl__xlate_oai_role(const char *role);

/* Anthropic stop_reason -> OpenAI finish_reason (unknown or NULL -> "stop"). */
const char *sl__xlate_finish_reason(const char *stop_reason);
/* OpenAI finish_reason -> Anthropic stop_reason (unknown or NULL -> "end_turn"). */
const char *sl__xlate_stop_reason(const char *finish_reason);

/* Scalar request parameters copied between formats. */
enum sl__xlate_kind { SL_XL_NUM, SL_XL_NUM01, SL_XL_INT, SL_XL_BOOL };
struct sl__xlate_param {
  const char *from, *to;
  enum sl__xlate_kind kind;
};
extern const struct sl__xlate_param sl__xlate_oai_to_anth_params[];
extern const size_t sl__xlate_n_oai_to_anth_params;
extern const struct sl__xlate_param sl__xlate_anth_to_oai_params[];
extern const size_t sl__xlate_n_anth_to_oai_params;
extern const struct sl__xlate_param sl__xlate_resp_to_chat_params[];
extern const size_t sl__xlate_n_resp_to_chat_params;
/* Copies every table parameter present in src (of the right JSON type) into dst. */
void sl__xlate_copy_params(struct sl_xl *x, const cJSON *src, cJSON *dst, const struct sl__xlate_param *t, size_t n);

/* Reasoning (xlate_tables.c): reasoning_effort -> thinking budget_tokens (0: none; -1:
 * not an effort); a budget -> reasoning_effort; Anthropic output_config.effort ->
 * reasoning_effort (NULL: not an effort). */
int sl__xlate_effort_budget(const char *effort);
const char *sl__xlate_budget_effort(int64_t budget);
const char *sl__xlate_anth_effort(const char *effort);

/* Error type in the client's vocabulary from the upstream's type (may be NULL) and the
 * status. For OpenAI, *code (may be NULL) gets the OpenAI error code to send, or NULL. */
const char *sl__xlate_err_type_anth(int status, const char *src_type);
const char *sl__xlate_err_type_oai(int status, const char *src_type, const char *message, const char **code);

/* An error as read from any upstream body. Strings point into the parsed tree or the
 * body and live as long as those. */
struct sl__xlate_err {
  const char *type, *message, *code, *param;
  size_t message_len; /* message may be a slice of a non-JSON body */
};
/* Finds type/message/code in a parsed error body (OpenAI, Anthropic, {"error":"text"},
 * {"detail":...}, {"message":...}). false when root holds none of them. */
bool sl__xlate_err_read(const cJSON *root, struct sl__xlate_err *e);
/* Writes an error body in the client's format (no SSE framing). */
void sl__xlate_err_write(enum sl_wire client, int status, const struct sl__xlate_err *e, struct sl_buf *out);

/* ---- streams (xlate_stream.c, xlate_*_stream.c) ---- */

struct sl__resp_stream;

#define SL_XL_MAX_BLOCKS 1024 /* content blocks / tool calls tracked per stream */

enum sl__xlate_blk { SL_XL_BLK_NONE, SL_XL_BLK_TEXT, SL_XL_BLK_THINKING, SL_XL_BLK_TOOL, SL_XL_BLK_OTHER,
                   SL_XL_BLK_JSON /* anth->oai: the json_response tool (o.json_tool): its input is content */ };

/* anth->oai: key = Anthropic block index, val = OpenAI tool_calls index.
 * oai->anth: key = OpenAI tool_calls index, val = Anthropic block index. */
struct sl__xlate_map {
  int key, val;
  enum sl__xlate_blk kind;
  bool args; /* anth->oai: some arguments were written for this tool call */
};

struct sl_xlate_stream {
  enum sl_xlate_dir dir;
  struct sl_xlate_resp_opts o;
  struct sl_sse sse;
  struct sl_buf scratch; /* one event's data, NUL-terminated for the handlers (reused) */
  int result;       /* sticky: 0 while open, then SL_XLATE_END or a negative code */
  bool started;     /* something was appended to an out buffer */
  bool began;       /* the first client event (role chunk / message_start) was written */
  bool final_known; /* the upstream told how it ended (message_delta / finish_reason) */
  bool finish_sent; /* anth->oai: the finish_reason chunk was written */
  bool any_block, any_tool;
  const char *reason; /* a table string: finish_reason (anth->oai) or stop_reason (oai->anth) */
  struct sl_xlate_usage usage;
  char *id, *model;
  struct sl__xlate_map *map;
  size_t nmap, capmap;
  int next_tool;  /* anth->oai: next tool_calls index */
  int next_block; /* oai->anth: next content block index */
  int open_block; /* oai->anth: the open block, -1 when none */
  enum sl__xlate_blk open_kind;
  struct sl__resp_stream *rs;   /* ->Responses: the response being built (xlate_resp_stream.c) */
  struct sl_xlate_stream *inner; /* anth->Responses: the ANTH_TO_OAI translator feeding it */
  struct sl_buf tmp;             /* anth->Responses: the inner translator's chunks (reused) */
};

/* Finds key in the map; NULL when absent. */
struct sl__xlate_map *sl__xlate_map_find(struct sl_xlate_stream *s, int key);
/* Adds key (absent); NULL when out of memory or over SL_XL_MAX_BLOCKS. */
struct sl__xlate_map *sl__xlate_map_add(struct sl_xlate_stream *s, int key, int val, enum sl__xlate_blk kind);
/* Replaces *dst with a malloc'd copy of src (NULL stays NULL). false when out of memory. */
bool sl__xlate_strset(char **dst, const char *src);
/* Ends the stream with an in-band error in the client's format; returns code. */
int sl__xlate_stream_fail(struct sl_xlate_stream *s, int code, int status, const char *message, struct sl_buf *out);

/* One event each; the result to keep (0 to go on). data is NUL-terminated. */
int sl__xlate_a2o_event(struct sl_xlate_stream *s, const char *event, size_t elen, const char *data, size_t dlen,
                    struct sl_buf *out);
int sl__xlate_a2o_finish(struct sl_xlate_stream *s, struct sl_buf *out);
int sl__xlate_o2a_event(struct sl_xlate_stream *s, const char *event, size_t elen, const char *data, size_t dlen,
                    struct sl_buf *out);
int sl__xlate_o2a_finish(struct sl_xlate_stream *s, struct sl_buf *out);
/* ->Responses (xlate_resp_stream.c): OAI_TO_RESP and ANTH_TO_RESP share these. */
int sl__xlate_o2r_init(struct sl_xlate_stream *s);
void sl__xlate_o2r_free(struct sl_xlate_stream *s);
int sl__xlate_o2r_event(struct sl_xlate_stream *s, const char *event, size_t elen, const char *data, size_t dlen,
                        struct sl_buf *out);
int sl__xlate_o2r_finish(struct sl_xlate_stream *s, struct sl_buf *out);
/* Ends a ->Responses stream badly: error event and response.failed; returns code. type
 * (may be NULL: from the status) and err_code are the error's OpenAI type and code. */
int sl__xlate_o2r_fail(struct sl_xlate_stream *s, int code, const char *type, const char *err_code,
                       const char *message, struct sl_buf *out);

/* A Responses `error` event with sequence number seq (xlate_error.c). */
void sl__xlate_resp_error_event(struct sl_buf *out, int seq, int status, const char *type, const char *code,
                                const char *message);

/* ---- the Responses API: shared builders (xlate_resp_resp.c) ---- */

enum sl__resp_kind { SL_RI_MESSAGE, SL_RI_REASONING, SL_RI_CALL };
enum sl__resp_part { SL_RP_TEXT, SL_RP_REFUSAL };

/* One output item as it grows. text: a message's output_text, a reasoning item's summary
 * text, a function call's arguments; refusal: a message's refusal. */
struct sl__resp_item {
  enum sl__resp_kind kind;
  char id[96];
  struct sl_buf text, refusal;
  char *call_id, *name;
  int tool_index;              /* call: the chat tool_calls index */
  int nparts;                  /* message: content parts opened, in order (at most 2) */
  enum sl__resp_part parts[2];
  bool done;
};

/* Token counts as Responses reports them (input INCLUDES cached tokens). */
struct sl__resp_usage {
  bool known;
  int64_t input, cached, output, reasoning;
};

struct sl__resp_meta {
  const cJSON *req; /* the client's request (echoed fields); may be NULL */
  const char *id, *model;
  int64_t created;
  const char *status;                 /* in_progress, completed, incomplete, failed */
  const char *incomplete;             /* incomplete_details.reason or NULL */
  const char *err_code, *err_message; /* status failed */
  const struct sl__resp_usage *usage; /* NULL or !known: usage null */
};

/* "<prefix>_<resp id without resp_>_<index>": item ids that are the same for a stream
 * and the whole response of the same answer. */
void sl__resp_item_id(char *dst, size_t n, const char *prefix, const char *resp_id, int index);
/* An item as JSON: done false gives the output_item.added form (status in_progress and
 * no content yet). NULL after a failure (x->rc set). */
cJSON *sl__resp_item_json(struct sl_xl *x, const struct sl__resp_item *it, bool done);
/* A content part / summary part: text NULL gives the empty (added) form. */
cJSON *sl__resp_part_json(struct sl_xl *x, enum sl__resp_kind kind, enum sl__resp_part p, const char *text);
/* The response object, output (taken; NULL: []) as its output. */
cJSON *sl__resp_object(struct sl_xl *x, const struct sl__resp_meta *m, cJSON *output);
/* chat usage -> Responses usage; and -> struct sl_xlate_usage (input without cached). */
void sl__resp_usage_read(const cJSON *chat_usage, struct sl__resp_usage *u);
void sl__resp_usage_native(const struct sl__resp_usage *r, struct sl_xlate_usage *u);
/* chat finish_reason -> response status and incomplete reason. */
const char *sl__resp_status(const char *finish_reason, const char **incomplete);

/* Event writing, shared by the stream and the replay: each call writes one whole SSE
 * event `event: T\ndata: {"type":T,"sequence_number":N,...}` and increments *seq. */
void sl__resp_ev_response(struct sl_buf *out, int *seq, const char *type, const cJSON *resp);
void sl__resp_ev_item(struct sl_buf *out, int *seq, const char *type, int oi, const cJSON *item);
void sl__resp_ev_part(struct sl_buf *out, int *seq, const char *type, const char *item_id, int oi, int ci,
                      const cJSON *part);
/* delta events: output_text / refusal / function_call_arguments / reasoning_summary_text */
void sl__resp_ev_delta(struct sl_buf *out, int *seq, const char *type, const char *item_id, int oi, int ci,
                       const char *delta, size_t n);
/* done events with the whole text under key (text / refusal / arguments); name for
 * function_call_arguments.done (else NULL). */
void sl__resp_ev_done(struct sl_buf *out, int *seq, const char *type, const char *item_id, int oi, int ci,
                      const char *key, const char *text, const char *name);

#endif
