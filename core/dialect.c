/* Bedrock and Vertex AI at the upstream boundary; see dialect.h. The pure parts are
 * net/wire's: translators (xlate_bedrock.h), SigV4 (sigv4.h), event-stream framing
 * (eventstream.h), the path (provider.h); tokens come from core/gcp_token.h. Per attempt a
 * small state lives in the request's arena; its buffers are malloc'd and freed by
 * sl_dialect_stop. */
#include "core/dialect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/gcp_token.h"
#include "net/wire/gcp_sa.h"
#include "core/request_internal.h"
#include "net/upstream.h"
#include "net/wire/eventstream.h"
#include "net/wire/sigv4.h"
#include "net/wire/xlate_bedrock.h"

#define MAX_FRAME (16u << 20)

struct sl_dialect_att {
  struct sl_gcp_waiter wt; /* first: the waiter's address is the state's */
  struct sl_attempt *at;
  void (*resume)(struct sl_attempt *at, int rc);
  bool waiting;
  struct sl_buf body;        /* the provider's request body */
  char amz_date[17];
  char auth[SL_GCP_TOKEN_MAX + 16]; /* Authorization: SigV4, or Bearer <token> */
  struct sl_es_decoder *es;  /* a streamed answer's frames */
  struct sl_converse_stream *cs;
  struct sl_buf out;         /* decoded stream bytes to forward */
  char errtype[96];          /* x-amzn-ErrorType, up to its ':' */
  int exc_status;            /* an exception frame's HTTP status (throttlingException: 429) */
  struct sl_buf exc_body;    /* and its error body in the deployment wire's format */
  bool frames;
  bool b64;                  /* embeddings asked with encoding_format base64 */
};

static const struct sl_deployment *dep_of(const struct sl_attempt *at) {
  return &at->rq->w->cfg->deployments[at->dep];
}

static bool bedrock(enum sl_dialect d) {
  return d == SL_DIALECT_BEDROCK_CONVERSE || d == SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC ||
         d == SL_DIALECT_BEDROCK_EMBED_TITAN || d == SL_DIALECT_BEDROCK_EMBED_COHERE;
}

static struct sl_dialect_att *state(struct sl_attempt *at) {
  if (!at->dl && (at->dl = sl_arena_calloc(at->rq->arena, sizeof *at->dl))) at->dl->at = at;
  return at->dl;
}

/* ---- tokens (Vertex AI) ---- */

/* The attempt's answer when no token came: a 401 from the deployment that says why, in the
 * error shape of the deployment's wire format (Anthropic's for Claude on Vertex, else
 * OpenAI's), so it is translated for the client like any provider error. */
static void no_token_answer(struct sl_attempt *at, const char *why) {
  const struct sl_deployment *d = dep_of(at);
  bool anth = at->uwire == SL_WIRE_ANTHROPIC;
  at->status = 401;
  at->resp.n = 0;
  sl_buf_puts(&at->resp, anth ? "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\""
                              : "{\"error\":{\"message\":\"");
  char m[768];
  const char *email = at->rq->w->cfg->gcp_creds[d->gcp_cred].client_email;
  if (why && *why && strstr(why, email)) /* the exchange's error names the account already */
    snprintf(m, sizeof m, "Vertex AI credentials of deployment %s: %s", d->id, why);
  else
    snprintf(m, sizeof m, "Vertex AI credentials of deployment %s (%s): %s", d->id, email,
             why && *why ? why : "no access token yet");
  sl_buf_json_escape(&at->resp, m, strlen(m));
  sl_buf_puts(&at->resp, anth ? "\"}}" : "\",\"type\":\"authentication_error\",\"code\":\"401\"}}");
  snprintf(at->ctype, sizeof at->ctype, "application/json");
}

static void token_ready(struct sl_gcp_waiter *wt, int rc) {
  struct sl_dialect_att *dl = (struct sl_dialect_att *)wt;
  struct sl_attempt *at = dl->at;
  dl->waiting = false;
  if (rc < 0) {
    char tok[8], err[512] = "";
    size_t len;
    sl_gcp_token_get((unsigned)dep_of(at)->gcp_cred, tok, sizeof tok, &len, err, sizeof err);
    no_token_answer(at, err);
  }
  dl->resume(at, rc);
}

int sl_dialect_prepare(struct sl_attempt *at, void (*resume)(struct sl_attempt *at, int rc)) {
  const struct sl_deployment *d = dep_of(at);
  if (d->gcp_cred < 0) return 0;
  struct sl_dialect_att *dl = state(at);
  if (!dl) return 0; /* out of memory: sl_dialect_request fails the attempt */
  size_t len;
  char err[8];
  if (sl_gcp_token_get((unsigned)d->gcp_cred, dl->auth + 7, sizeof dl->auth - 7, &len, err, sizeof err) == 0) {
    memcpy(dl->auth, "Bearer ", 7);
    return 0;
  }
  dl->resume = resume;
  dl->wt.cred = (unsigned)d->gcp_cred;
  dl->wt.cb = token_ready;
  dl->waiting = true;
  sl_gcp_token_wait(at->rq->w, &dl->wt);
  return -EAGAIN;
}

/* ---- the request ---- */

static void set_header(struct sl_header *hs, size_t *nh, size_t cap, const char *name, const char *value, size_t vn) {
  for (size_t i = 0; i < *nh; i++)
    if (hs[i].name.n == strlen(name) && strncasecmp(hs[i].name.p, name, hs[i].name.n) == 0) {
      hs[i].value = (struct sl_slice){value, vn};
      return;
    }
  if (*nh < cap) hs[(*nh)++] = (struct sl_header){{name, strlen(name)}, {value, vn}};
}

/* SigV4 over the body, the Host, Content-Type and X-Amz-* headers. */
static int sign(struct sl_attempt *at, struct sl_dialect_att *dl, struct sl_header *hs, size_t *nh, size_t cap) {
  const struct sl_deployment *d = dep_of(at);
  char host[300], hash[65];
  sl_upstream_host_header(d->host, d->port, d->tls, host, sizeof host); /* as the pool sends it */
  struct sl_iov v = {dl->body.p ? dl->body.p : "", dl->body.n};
  sl_sigv4_payload_hash(&v, 1, hash);
  sl_sigv4_amz_date((int64_t)time(NULL), dl->amz_date);
  set_header(hs, nh, cap, "X-Amz-Date", dl->amz_date, 16);
  if (d->aws_session_token)
    set_header(hs, nh, cap, "X-Amz-Security-Token", d->aws_session_token, strlen(d->aws_session_token));
  struct sl_header sh[4] = {{SL_SLICE_LIT("host"), {host, strlen(host)}},
                            {SL_SLICE_LIT("content-type"), SL_SLICE_LIT("application/json")},
                            {SL_SLICE_LIT("x-amz-date"), {dl->amz_date, 16}}};
  size_t nsh = 3;
  if (d->aws_session_token) sh[nsh++] = (struct sl_header){SL_SLICE_LIT("x-amz-security-token"), {d->aws_session_token, strlen(d->aws_session_token)}};
  const char *q = strchr(at->path.p, '?');
  char path[2048];
  snprintf(path, sizeof path, "%.*s", q ? (int)(q - at->path.p) : (int)at->path.n, at->path.p);
  struct sl_sigv4_req r = {.method = "POST",
                           .path = path,
                           .query = q ? q + 1 : NULL,
                           .headers = sh,
                           .nheaders = nsh,
                           .payload_sha256_hex = hash,
                           .region = d->aws_region_name,
                           .service = "bedrock",
                           .amz_date = dl->amz_date};
  struct sl_aws_creds c = {d->aws_access_key_id, d->aws_secret_access_key, d->aws_session_token};
  int n = sl_sigv4_authorization(&r, &c, dl->auth, sizeof dl->auth);
  if (n < 0 || (size_t)n >= sizeof dl->auth) return -1;
  set_header(hs, nh, cap, "Authorization", dl->auth, (size_t)n);
  return 0;
}

/* The request's body so far (slices) as one NUL-terminated text. */
static int joined(const struct sl_attempt *at, struct sl_buf *b) {
  for (size_t i = 0; i < at->nbody; i++) sl_buf_append(b, at->body[i].base, at->body[i].len);
  sl_buf_append(b, "", 1);
  b->n--;
  return b->oom ? -1 : 0;
}

/* Whether an OpenAI chat or Responses request set an output limit. */
static bool given_limit(const cJSON *req) {
  static const char *const keys[] = {"max_tokens", "max_completion_tokens", "max_output_tokens"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(req, keys[i]))) return true;
  return false;
}

static int rewrite_body(struct sl_attempt *at, struct sl_dialect_att *dl, const char *model) {
  const struct sl_deployment *d = dep_of(at);
  struct sl_buf in = {0};
  if (joined(at, &in)) {
    sl_buf_free(&in);
    return -1;
  }
  int rc = 0;
  bool stream = false;
  cJSON *j = NULL;
  switch (d->dialect) {
  case SL_DIALECT_BEDROCK_CONVERSE: /* an Anthropic-wire deployment: the Anthropic body respelled */
  case SL_DIALECT_BEDROCK_EMBED_TITAN:
  case SL_DIALECT_BEDROCK_EMBED_COHERE:
    if (!(j = cJSON_ParseWithLength(in.p, in.n))) {
      snprintf(at->xerr, sizeof at->xerr, "the request body is not JSON");
      rc = -EINVAL;
      break;
    }
    if (d->dialect == SL_DIALECT_BEDROCK_CONVERSE) {
      /* An OpenAI client that set no output limit gets the model's own default, as before the
       * translation to Anthropic's body (which needs one) put 4096 in: models with a smaller
       * limit (Llama: 2048) refuse more. With thinking Converse needs it above the budget. */
      if (at->rq->cwire != SL_WIRE_ANTHROPIC && !cJSON_GetObjectItemCaseSensitive(j, "thinking") &&
          !given_limit(at->rq->json))
        cJSON_DeleteItemFromObjectCaseSensitive(j, "max_tokens");
      struct sl_xlate_req_opts o = {.model = model};
      rc = sl_xlate_anth_to_converse_request(j, &o, &dl->body, at->xerr, sizeof at->xerr);
    } else {
      dl->b64 = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "encoding_format")) &&
                strcmp(cJSON_GetObjectItemCaseSensitive(j, "encoding_format")->valuestring, "base64") == 0;
      rc = sl_bedrock_embed_request(d->dialect == SL_DIALECT_BEDROCK_EMBED_TITAN ? SL_BEDROCK_EMBED_TITAN
                                                                                 : SL_BEDROCK_EMBED_COHERE,
                                    j, &dl->body, at->xerr, sizeof at->xerr);
    }
    cJSON_Delete(j);
    break;
  case SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC:
  case SL_DIALECT_VERTEX_ANTHROPIC:
    rc = sl_anthropic_body_for_version(in.p, in.n,
                                       d->dialect == SL_DIALECT_VERTEX_ANTHROPIC ? "vertex-2023-10-16"
                                                                                 : "bedrock-2023-05-31",
                                       &dl->body, &stream, at->xerr, sizeof at->xerr);
    break;
  default: /* Vertex's OpenAI endpoint takes the OpenAI body as built */
    sl_buf_free(&in);
    return 0;
  }
  sl_buf_free(&in);
  if (rc) return rc == -ENOMEM ? -1 : -2;
  if (dl->body.oom) return -1;
  at->body[0] = uv_buf_init(dl->body.p, (unsigned)dl->body.n);
  at->nbody = 1;
  return 0;
}

int sl_dialect_request(struct sl_attempt *at, enum sl_prov_route pr, struct sl_header *hs, size_t *nh, size_t cap) {
  struct sl_request *rq = at->rq;
  const struct sl_deployment *d = dep_of(at);
  struct sl_dialect_att *dl = state(at);
  if (!dl) return -1;
  const char *model = sl_attempt_model(at);
  bool embed = d->dialect == SL_DIALECT_BEDROCK_EMBED_TITAN || d->dialect == SL_DIALECT_BEDROCK_EMBED_COHERE;
  bool stream = rq->stream && !at->held && !embed;
  char path[2048];
  int n = sl_provider_dialect_path(d->dialect, pr, stream, d->base_path, model, d->vertex_project, d->vertex_location,
                                   path, sizeof path);
  if (n < 0 || (size_t)n >= sizeof path) {
    snprintf(at->xerr, sizeof at->xerr, "deployment %s does not serve this endpoint", d->id);
    return -2;
  }
  at->path.n = 0;
  sl_buf_append(&at->path, path, (size_t)n);
  int rc = rewrite_body(at, dl, model);
  if (rc) return rc;
  if (bedrock(d->dialect)) {
    set_header(hs, nh, cap, "Accept",
               stream ? "application/vnd.amazon.eventstream" : "application/json",
               stream ? strlen("application/vnd.amazon.eventstream") : strlen("application/json"));
    if (d->aws_access_key_id && !d->api_key && sign(at, dl, hs, nh, cap)) return -1;
  } else if (d->gcp_cred >= 0 && dl->auth[0]) {
    set_header(hs, nh, cap, "Authorization", dl->auth, strlen(dl->auth));
  }
  return at->path.oom ? -1 : 0;
}

/* ---- the answer ---- */

void sl_dialect_head(struct sl_attempt *at, int status, const struct sl_header *h, size_t n) {
  const struct sl_deployment *d = dep_of(at);
  if (!bedrock(d->dialect)) return;
  struct sl_dialect_att *dl = state(at);
  if (!dl) return;
  const struct sl_header *t = sl_http_header_find(h, n, "x-amzn-errortype");
  dl->errtype[0] = 0;
  if (t) { /* "ValidationException:http://internal.amazon.com/coral/..." */
    size_t k = 0;
    while (k < t->value.n && k + 1 < sizeof dl->errtype && t->value.p[k] != ':' && t->value.p[k] >= ' ') k++;
    memcpy(dl->errtype, t->value.p, k);
    dl->errtype[k] = 0;
  }
  dl->frames = at->rq->stream && !at->held && status >= 200 && status < 300 && !at->encoded &&
               strncasecmp(at->ctype, "application/vnd.amazon.eventstream", 34) == 0;
  if (dl->frames) at->streaming = true;
}

bool sl_dialect_streams(const struct sl_attempt *at) { return at->dl && at->dl->frames; }

/* An exception frame's message into at->xerr. */
static int exception(struct sl_dialect_att *dl, const struct sl_es_msg *m) {
  const struct sl_es_header *t = sl_es_header_find(m, ":exception-type");
  if (!t) t = sl_es_header_find(m, ":error-code");
  dl->exc_status = t ? sl_bedrock_error_status(t->value, t->value_len) : 500;
  if (dl->exc_status < 400) dl->exc_status = 500;
  dl->exc_body.n = 0; /* the error body, once; its message also goes into xerr */
  sl_bedrock_error_to_anth(dl->exc_status, t ? t->value : NULL, t ? t->value_len : 0, m->payload, m->payload_len,
                           &dl->exc_body);
  cJSON *j = dl->exc_body.p ? cJSON_ParseWithLength(dl->exc_body.p, dl->exc_body.n) : NULL;
  const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "error"), "message"));
  snprintf(dl->at->xerr, sizeof dl->at->xerr, "Deployment %s failed mid-stream: %.*s: %s", dep_of(dl->at)->id,
           t ? (int)t->value_len : 9, t ? t->value : "exception", msg ? msg : "no message");
  cJSON_Delete(j);
  return -EPROTO;
}

static int on_frame(void *ud, const struct sl_es_msg *m) {
  struct sl_dialect_att *dl = ud;
  const struct sl_es_header *mt = sl_es_header_find(m, ":message-type");
  if (mt && !(mt->value_len == 5 && memcmp(mt->value, "event", 5) == 0)) return exception(dl, m);
  const struct sl_es_header *et = sl_es_header_find(m, ":event-type");
  if (!et) return 0;
  if (dep_of(dl->at)->dialect == SL_DIALECT_BEDROCK_CONVERSE) {
    int rc = sl_converse_stream_event(dl->cs, et->value, et->value_len, m->payload, m->payload_len, &dl->out);
    if (rc) snprintf(dl->at->xerr, sizeof dl->at->xerr, "Deployment %s sent a stream event sluice cannot read (%.*s)",
                     dep_of(dl->at)->id, (int)(et->value_len > 60 ? 60 : et->value_len), et->value);
    return rc;
  }
  if (et->value_len == 5 && memcmp(et->value, "chunk", 5) == 0 &&
      sl_bedrock_invoke_chunk_to_sse(m->payload, m->payload_len, &dl->out)) {
    snprintf(dl->at->xerr, sizeof dl->at->xerr, "Deployment %s sent a stream chunk sluice cannot read",
             dep_of(dl->at)->id);
    return -EINVAL;
  }
  return 0;
}

int sl_dialect_stream(struct sl_attempt *at, const char *p, size_t n, const char **out, size_t *outn) {
  struct sl_dialect_att *dl = at->dl;
  *out = NULL;
  *outn = 0;
  if (!dl->es && sl_es_decoder_new(MAX_FRAME, &dl->es)) return -ENOMEM;
  if (!dl->cs && dep_of(at)->dialect == SL_DIALECT_BEDROCK_CONVERSE) {
    struct sl_xlate_resp_opts o = {.created = (int64_t)time(NULL)};
    if (sl_converse_stream_new(&o, sl_attempt_model(at), &dl->cs)) return -ENOMEM;
  }
  dl->out.n = 0;
  int rc = sl_es_decoder_feed(dl->es, p, n, on_frame, dl);
  if (rc == -EBADMSG)
    snprintf(at->xerr, sizeof at->xerr, "Deployment %s sent a malformed event-stream frame (bad length or CRC)",
             dep_of(at)->id);
  if (rc) return rc == -EPROTO ? -EPROTO : rc == -ENOMEM ? -ENOMEM : -EBADMSG;
  if (dl->out.oom) return -ENOMEM;
  *out = dl->out.p;
  *outn = dl->out.n;
  return 0;
}

int sl_dialect_stream_end(struct sl_attempt *at, const char **out, size_t *outn) {
  struct sl_dialect_att *dl = at->dl;
  *out = NULL;
  *outn = 0;
  dl->out.n = 0;
  int rc = dl->es && !sl_es_decoder_idle(dl->es) ? -EPIPE : 0;
  if (dl->cs) {
    struct sl_xlate_usage u;
    int r = sl_converse_stream_finish(dl->cs, &dl->out, &u);
    if (r && !rc) rc = -EPIPE;
  } else if (!dl->es) {
    rc = -EPIPE; /* no byte at all */
  }
  if (rc) { /* the caller ends the stream with its own error event: not the translator's too */
    snprintf(at->xerr, sizeof at->xerr, "Deployment %s ended the stream before its last event", dep_of(at)->id);
    return rc;
  }
  *out = dl->out.p;
  *outn = dl->out.n;
  return 0;
}

int sl_dialect_whole(struct sl_attempt *at) {
  const struct sl_deployment *d = dep_of(at);
  if (!bedrock(d->dialect)) return 0;
  struct sl_dialect_att *dl = state(at);
  struct sl_buf xb = {0};
  int rc = 0;
  const char *p = at->resp.p ? at->resp.p : "";
  if (at->status >= 200 && at->status < 300) {
    struct sl_xlate_usage u;
    if (d->dialect == SL_DIALECT_BEDROCK_CONVERSE) {
      struct sl_xlate_resp_opts o = {.created = (int64_t)time(NULL)};
      rc = sl_xlate_converse_to_anth_response(p, at->resp.n, &o, sl_attempt_model(at), &xb, &u);
    } else if (d->dialect == SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC) {
      return 0; /* already an Anthropic message */
    } else {
      rc = sl_bedrock_embed_response_fmt(d->dialect == SL_DIALECT_BEDROCK_EMBED_TITAN ? SL_BEDROCK_EMBED_TITAN
                                                                                      : SL_BEDROCK_EMBED_COHERE,
                                         sl_attempt_model(at), dl && dl->b64, p, at->resp.n, &xb, &u);
    }
  } else {
    /* in the deployment's wire format, which request.c translates for the client */
    const char *t = dl && dl->errtype[0] ? dl->errtype : NULL;
    rc = at->rq->w->cfg->plan->deps[at->dep].wire == SL_WIRE_ANTHROPIC
             ? sl_bedrock_error_to_anth(at->status, t, t ? strlen(t) : 0, p, at->resp.n, &xb)
             : sl_bedrock_error_to_oai(at->status, t, t ? strlen(t) : 0, p, at->resp.n, &xb);
  }
  if (rc || xb.oom) {
    sl_buf_free(&xb);
    return -EPROTO;
  }
  sl_buf_free(&at->resp);
  at->resp = xb;
  snprintf(at->ctype, sizeof at->ctype, "application/json");
  return 0;
}

int sl_dialect_exception_answer(struct sl_attempt *at) {
  struct sl_dialect_att *dl = at->dl;
  if (!dl || !dl->exc_status || !dl->exc_body.n || dl->exc_body.oom) return 0;
  at->resp.n = 0;
  sl_buf_append(&at->resp, dl->exc_body.p, dl->exc_body.n);
  if (at->resp.oom) return 0;
  at->status = dl->exc_status;
  snprintf(at->ctype, sizeof at->ctype, "application/json");
  return at->status;
}

void sl_dialect_stop(struct sl_attempt *at) {
  struct sl_dialect_att *dl = at->dl;
  if (!dl || !dl->waiting) return;
  sl_gcp_token_cancel(&dl->wt);
  dl->waiting = false;
}

void sl_dialect_free(struct sl_attempt *at) {
  struct sl_dialect_att *dl = at->dl;
  if (!dl) return;
  sl_dialect_stop(at);
  sl_buf_free(&dl->body);
  sl_buf_free(&dl->out);
  sl_buf_free(&dl->exc_body);
  if (dl->es) sl_es_decoder_free(dl->es);
  if (dl->cs) sl_converse_stream_free(dl->cs);
  dl->es = NULL;
  dl->cs = NULL;
}
