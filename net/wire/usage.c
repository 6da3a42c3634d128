/* Usage from whole bodies and from SSE streams, and the request splice that asks for
 * it; see usage.h. The one idea of the filter: frame the raw bytes into whole events
 * with the event-stream line rules (\n, \r\n or \r; an empty line ends an event), keep
 * each event's bytes until its end, then decide on the event as a whole (forward,
 * forward minus one member, drop) and forward its original bytes. Events are read with
 * the structural scanner (net/json_scan) and only the usage object is parsed with
 * cJSON, so an ordinary content chunk costs one pass over its bytes. */
#include "net/wire/usage.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "net/base/buf.h"
#include "net/wire/json_scan.h"

#define DEFAULT_MAX_EVENT (16u << 20)

/* ---- usage objects ---- */

enum {
  R_PROMPT, R_COMPLETION, R_TOTAL, R_PROMPT_CACHED, R_COMPLETION_REASONING, /* OpenAI chat */
  R_INPUT, R_OUTPUT, R_INPUT_CACHED, R_OUTPUT_REASONING,                   /* Responses/Anthropic */
  R_CACHE_READ, R_CACHE_CREATE,                                            /* Anthropic */
  R_G_PROMPT, R_G_CAND, R_G_THOUGHTS, R_G_CACHED, R_G_TOTAL,              /* Gemini */
  R_N
};

_Static_assert(R_N == sizeof ((struct sl_usage_filter *)0)->raw / sizeof(int64_t), "raw fields");

static void raw_clear(int64_t *raw) {
  for (int i = 0; i < R_N; i++) raw[i] = -1;
}

/* Sets raw[i] from o.key when it is a usable count; true when it was. */
static bool num(const cJSON *o, const char *key, int64_t *raw, int i) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) return false;
  /* a huge count is kept, clamped (exact in a double and far from overflow), so the
   * plausibility check downstream sees it and flags it instead of it reading as absent */
  raw[i] = v->valuedouble > 9e15 ? (int64_t)9e15 : (int64_t)v->valuedouble;
  return true;
}

static void sub_num(const cJSON *o, const char *obj, const char *key, int64_t *raw, int i) {
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, obj);
  if (cJSON_IsObject(s)) num(s, key, raw, i);
}

/* Reads the fields present in a usage object into raw (others untouched). True when
 * it had a token count of some kind. */
static bool raw_from_usage(const cJSON *u, int64_t *raw) {
  if (!cJSON_IsObject(u)) return false;
  bool any = false;
  any |= num(u, "prompt_tokens", raw, R_PROMPT);
  any |= num(u, "completion_tokens", raw, R_COMPLETION);
  any |= num(u, "input_tokens", raw, R_INPUT);
  any |= num(u, "output_tokens", raw, R_OUTPUT);
  any |= num(u, "cache_read_input_tokens", raw, R_CACHE_READ);
  any |= num(u, "cache_creation_input_tokens", raw, R_CACHE_CREATE);
  num(u, "total_tokens", raw, R_TOTAL);
  sub_num(u, "prompt_tokens_details", "cached_tokens", raw, R_PROMPT_CACHED);
  sub_num(u, "completion_tokens_details", "reasoning_tokens", raw, R_COMPLETION_REASONING);
  sub_num(u, "input_tokens_details", "cached_tokens", raw, R_INPUT_CACHED);
  sub_num(u, "output_tokens_details", "reasoning_tokens", raw, R_OUTPUT_REASONING);
  return any;
}

static bool raw_from_gemini(const cJSON *u, int64_t *raw) {
  if (!cJSON_IsObject(u)) return false;
  bool any = false;
  any |= num(u, "promptTokenCount", raw, R_G_PROMPT);
  any |= num(u, "candidatesTokenCount", raw, R_G_CAND);
  any |= num(u, "thoughtsTokenCount", raw, R_G_THOUGHTS);
  num(u, "cachedContentTokenCount", raw, R_G_CACHED);
  num(u, "totalTokenCount", raw, R_G_TOTAL);
  return any;
}

static int64_t sat(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

static void normalise(const int64_t *raw, struct sl_usage *u) {
#define HAS(i) (raw[i] >= 0)
#define GET(i) (raw[i] >= 0 ? raw[i] : 0)
  memset(u, 0, sizeof *u);
  if (HAS(R_PROMPT))
    u->prompt_tokens = raw[R_PROMPT];
  else if (HAS(R_INPUT) && (HAS(R_INPUT_CACHED) || HAS(R_OUTPUT_REASONING)))
    u->prompt_tokens = raw[R_INPUT]; /* Responses API: input_tokens include the cache */
  else if (HAS(R_INPUT) || HAS(R_CACHE_READ) || HAS(R_CACHE_CREATE))
    u->prompt_tokens = sat(sat(GET(R_INPUT), GET(R_CACHE_READ)), GET(R_CACHE_CREATE));
  else
    u->prompt_tokens = GET(R_G_PROMPT);
  u->cached_tokens = HAS(R_PROMPT_CACHED)  ? raw[R_PROMPT_CACHED]
                     : HAS(R_INPUT_CACHED) ? raw[R_INPUT_CACHED]
                     : HAS(R_CACHE_READ)   ? raw[R_CACHE_READ]
                                           : GET(R_G_CACHED);
  u->cache_write_tokens = GET(R_CACHE_CREATE);
  if (HAS(R_COMPLETION))
    u->completion_tokens = raw[R_COMPLETION];
  else if (HAS(R_OUTPUT))
    u->completion_tokens = raw[R_OUTPUT];
  else
    u->completion_tokens = sat(GET(R_G_CAND), GET(R_G_THOUGHTS)); /* thoughts bill as output */
  u->reasoning_tokens = HAS(R_COMPLETION_REASONING) ? raw[R_COMPLETION_REASONING]
                        : HAS(R_OUTPUT_REASONING)   ? raw[R_OUTPUT_REASONING]
                                                    : GET(R_G_THOUGHTS);
  u->total_tokens = HAS(R_TOTAL)     ? raw[R_TOTAL]
                    : HAS(R_G_TOTAL) ? raw[R_G_TOTAL]
                                     : sat(u->prompt_tokens, u->completion_tokens);
#undef HAS
#undef GET
}

int sl_usage_from_object(const char *obj, size_t len, struct sl_usage *out) {
  memset(out, 0, sizeof *out);
  cJSON *u = cJSON_ParseWithLength(obj, len);
  int64_t raw[R_N];
  raw_clear(raw);
  bool ok = u && raw_from_usage(u, raw);
  cJSON_Delete(u);
  if (!ok) return -ENOENT;
  normalise(raw, out);
  return 0;
}

int sl_usage_from_json(const char *body, size_t len, struct sl_usage *out) {
  memset(out, 0, sizeof *out);
  /* Fast path: find the top-level usage object by scanning and parse only it, not the
   * whole (possibly large) answer. */
  size_t vs, ve;
  if (sl_json_top_field(body, len, "usage", &vs, &ve) == 0 && body[vs] == '{') {
    cJSON *u = cJSON_ParseWithLength(body + vs, ve - vs);
    int64_t raw[R_N];
    raw_clear(raw);
    bool ok = u && raw_from_usage(u, raw);
    cJSON_Delete(u);
    if (ok) {
      normalise(raw, out);
      return 0;
    }
  }
  cJSON *j = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return -EINVAL;
  }
  int64_t raw[R_N];
  raw_clear(raw);
  bool ok = raw_from_usage(cJSON_GetObjectItemCaseSensitive(j, "usage"), raw) ||
            raw_from_gemini(cJSON_GetObjectItemCaseSensitive(j, "usageMetadata"), raw);
  cJSON_Delete(j);
  if (!ok) return -ENOENT;
  normalise(raw, out);
  return 0;
}

int64_t sl_usage_estimate_from_chars(size_t chars, size_t deltas) {
  uint64_t t = chars / 4 + (chars % 4 != 0);
  if (t < deltas) t = deltas;
  return t > INT64_MAX ? INT64_MAX : (int64_t)t;
}

/* ---- the streaming filter ---- */

void sl_usage_filter_init(struct sl_usage_filter *f, unsigned flags, size_t max_event) {
  memset(f, 0, sizeof *f);
  f->flags = flags & SL_USAGE_STRIP;
  sl_sse_framer_init(&f->fr, max_event ? max_event : DEFAULT_MAX_EVENT);
  raw_clear(f->raw);
}

void sl_usage_filter_free(struct sl_usage_filter *f) { sl_sse_framer_free(&f->fr); }

int sl_usage_filter_usage(const struct sl_usage_filter *f, struct sl_usage *out) {
  memset(out, 0, sizeof *out);
  if (!f->have_usage) return -ENOENT;
  normalise(f->raw, out);
  return 0;
}

static bool key_counted(const char *k, size_t n) {
#define K(s) {s, sizeof s - 1}
  static const struct {
    const char *s;
    size_t n;
  } keys[] = {K("content"), K("text"), K("arguments"), K("reasoning_content"),
              K("reasoning"), K("refusal"), K("partial_json"), K("thinking")};
#undef K
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (keys[i].n == n && memcmp(keys[i].s, k, n) == 0) return true;
  return false;
}

/* At an opening quote: moves *i past the closing quote (or to n), without decoding. */
static void skip_string_fast(const char *s, size_t n, size_t *i) {
  size_t k = *i + 1;
  for (;;) {
    const char *q = k < n ? memchr(s + k, '"', n - k) : NULL;
    if (!q) {
      *i = n;
      return;
    }
    size_t e = (size_t)(q - s), b = e;
    while (b > k && s[b - 1] == '\\') b--; /* an odd run of backslashes escapes the quote */
    if ((e - b) % 2 == 0) {
      *i = e + 1;
      return;
    }
    k = e + 1;
  }
}

/* At an opening quote: moves *i past the closing quote (or to n) and returns the
 * string's decoded length in UTF-8 bytes (an escaped surrogate counts 2, a pair 4). */
static size_t scan_string(const char *s, size_t n, size_t *i) {
  size_t k = *i + 1, len = 0;
  while (k < n && s[k] != '"') {
    if (s[k] == '\\' && k + 1 < n) {
      if (s[k + 1] == 'u' && k + 5 < n) {
        int cp = 0, ok = 1;
        for (int d = 2; d < 6; d++) {
          int h = sl_hexval(s[k + d]);
          if (h < 0) ok = 0;
          cp = cp * 16 + (h < 0 ? 0 : h);
        }
        len += !ok ? 1 : cp < 0x80 ? 1 : cp < 0x800 ? 2 : (cp >= 0xD800 && cp < 0xE000) ? 2 : 3;
        k += ok ? 6 : 2;
      } else {
        len++;
        k += 2;
      }
    } else {
      len++;
      k++;
    }
  }
  *i = k < n ? k + 1 : n;
  return len;
}

/* Bytes of generated text in one JSON event: string values of the counted keys, at
 * any depth. Tolerant: malformed input just yields some count. */
static size_t count_text(const char *s, size_t n) {
  size_t i = 0, total = 0;
  bool expect = false, want = false; /* right after `"key":`; that key is counted */
  while (i < n) {
    if (!expect) { /* outside a key's value only a quote changes anything: jump to it */
      const char *q = memchr(s + i, '"', n - i);
      if (!q) break;
      i = (size_t)(q - s);
    }
    char c = s[i];
    if (c == '"') {
      size_t st = i, len = 0;
      if (expect && want) len = scan_string(s, n, &i); /* a counted value: its length */
      else skip_string_fast(s, n, &i);
      size_t j = i;
      while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) j++;
      if (j < n && s[j] == ':' && !expect) { /* a key */
        want = key_counted(s + st + 1, i - st - 2); /* terminated: i >= st + 2 */
        expect = true;
        i = j + 1;
        continue;
      }
      if (expect && want) total += len;
      expect = want = false;
    } else {
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') expect = want = false;
      i++;
    }
  }
  return total;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Whether `"usage"` occurs in d: a cheap test before walking the object. Searched from
 * the end, where OpenAI puts the member, one 'u' at a time. */
static bool has_usage_key(const char *d, size_t n) {
  size_t k = n;
  while (k > 1) {
    const char *u = memrchr(d + 1, 'u', k - 1);
    if (!u) return false;
    size_t at = (size_t)(u - d);
    if (d[at - 1] == '"' && n - at >= 6 && memcmp(u, "usage\"", 6) == 0) return true;
    k = at;
  }
  return false;
}

/* Parses the usage value at [vs, ve) of data into the filter (merging fields). */
static void capture(struct sl_usage_filter *f, const char *data, size_t vs, size_t ve) {
  cJSON *u = cJSON_ParseWithLength(data + vs, ve - vs);
  if (u && raw_from_usage(u, f->raw)) f->have_usage = true;
  cJSON_Delete(u);
}

enum verdict { V_FORWARD, V_DROP, V_CUT };

static bool has_suffix(const char *t, size_t n, const char *suf) {
  size_t k = strlen(suf);
  return n >= k && memcmp(t + n - k, suf, k) == 0;
}

static bool is_type(const char *t, size_t n, const char *name) { return n == strlen(name) && memcmp(t, name, n) == 0; }

/* A Responses API event, {"type":"response.<...>",...} (type first, as OpenAI writes
 * it): its text is the "delta" of the text, refusal and arguments delta events, its
 * usage the response.usage of response.completed / incomplete / failed (input_tokens
 * include the cache there); every other event repeats text already counted, so nothing
 * else is read. False when d is not such an event. */
static bool responses_event(struct sl_usage_filter *f, const char *d, size_t n) {
  size_t i = 0;
  while (i < n && is_ws(d[i])) i++;
  if (i >= n || d[i++] != '{') return false;
  while (i < n && is_ws(d[i])) i++;
  if (n - i < 6 || memcmp(d + i, "\"type\"", 6) != 0) return false;
  i += 6;
  while (i < n && is_ws(d[i])) i++;
  if (i >= n || d[i++] != ':') return false;
  while (i < n && is_ws(d[i])) i++;
  if (n - i < 10 || memcmp(d + i, "\"response.", 10) != 0) return false;
  size_t ts = i + 1;
  skip_string_fast(d, n, &i);
  if (i > n || i < ts + 1) return true;
  const char *t = d + ts;
  size_t tn = i - 1 - ts;
  size_t vs, ve;
  if (has_suffix(t, tn, "text.delta") || has_suffix(t, tn, "refusal.delta") ||
      has_suffix(t, tn, "arguments.delta")) {
    if (sl_json_top_field(d, n, "delta", &vs, &ve) == 0 && d[vs] == '"') {
      size_t c = scan_string(d, ve, &vs);
      if (c) {
        f->out_chars += c;
        f->out_deltas++;
      }
    }
  } else if (is_type(t, tn, "response.completed") || is_type(t, tn, "response.incomplete") ||
             is_type(t, tn, "response.failed")) {
    size_t us, ue;
    if (sl_json_top_field(d, n, "response", &vs, &ve) == 0 && d[vs] == '{' &&
        sl_json_top_field(d + vs, ve - vs, "usage", &us, &ue) == 0 && d[vs + us] == '{')
      capture(f, d + vs, us, ue);
  }
  return true;
}

/* The member range of the top-level "usage" whose value sl_json_top_field found at
 * [vs, ve), with one adjacent comma, as sl_json_top_member gives it (same rules: the
 * comma after it, else the comma before it, else the member alone), found from the
 * value instead of a second walk over the object. */
static bool usage_member(const char *d, size_t n, size_t vs, size_t ve, size_t *ms, size_t *me) {
  size_t k = vs;
  while (k > 0 && is_ws(d[k - 1])) k--;
  if (k == 0 || d[k - 1] != ':') return false;
  k--;
  while (k > 0 && is_ws(d[k - 1])) k--;
  if (k < 7 || memcmp(d + k - 7, "\"usage\"", 7) != 0) return false;
  size_t ks = k - 7, a = ve;
  while (a < n && is_ws(d[a])) a++;
  if (a < n && d[a] == ',') {
    *ms = ks;
    *me = a + 1;
    return true;
  }
  size_t b = ks;
  while (b > 0 && is_ws(d[b - 1])) b--;
  *ms = b > 0 && d[b - 1] == ',' ? b - 1 : ks;
  *me = ve;
  return true;
}

/* Looks at one event's data: captures usage, counts text, and says what to forward.
 * For V_CUT, [*cs, *ce) is the member to cut, in data coordinates. */
static enum verdict judge(struct sl_usage_filter *f, const char *d, size_t n, size_t *cs, size_t *ce) {
  size_t i = 0;
  if (!d) return V_FORWARD;
  while (i < n && is_ws(d[i])) i++;
  if (n - i == 6 && memcmp(d + i, "[DONE]", 6) == 0) {
    f->saw_done = true;
    return V_FORWARD;
  }
  if (i >= n || d[i] != '{') return V_FORWARD;
  if (responses_event(f, d + i, n - i)) return V_FORWARD; /* native Responses stream: observed only */
  enum verdict v = V_FORWARD;
  bool usage_only = false;
  size_t vs, ve;
  if (has_usage_key(d, n) && sl_json_top_field(d, n, "usage", &vs, &ve) == 0) {
    if (d[vs] == '{') { /* null (or a stray scalar) is not a report */
      capture(f, d, vs, ve);
      size_t chs, che;
      int rc = sl_json_top_field(d, n, "choices", &chs, &che);
      if (rc == -ENOENT) {
        usage_only = true;
      } else if (rc == 0 && d[chs] == '[') {
        size_t k = chs + 1;
        while (k < che && is_ws(d[k])) k++;
        usage_only = k < che && d[k] == ']';
      }
    }
    if (usage_only && (f->flags & SL_USAGE_STRIP_CHUNK)) {
      v = V_DROP;
    } else if (f->flags & SL_USAGE_STRIP_FIELD) {
      if (usage_member(d, n, vs, ve, cs, ce)) v = V_CUT;
    }
  } else if (memmem(d, n, "\"message\"", 9) && sl_json_top_field(d, n, "message", &vs, &ve) == 0 &&
             d[vs] == '{') {
    /* Anthropic message_start: {"type":"message_start","message":{...,"usage":{...}}} */
    size_t us, ue;
    if (sl_json_top_field(d + vs, ve - vs, "usage", &us, &ue) == 0) capture(f, d + vs, us, ue);
  }
  if (v != V_DROP && !usage_only) {
    size_t c = count_text(d, n);
    if (c) {
      f->out_chars += c;
      f->out_deltas++;
    }
  }
  return v;
}

size_t sl_usage_filter_frame(struct sl_usage_filter *f, const struct sl_sse_frame *fr, struct sl_iov out[2]) {
  if (fr->kind == SL_SSE_TAIL) { /* the \n of the \r\n that ended the last event: goes where it went */
    if (!f->flags || f->last_dropped) return 0;
    out[0] = (struct sl_iov){fr->raw, fr->raw_len};
    return 1;
  }
  if (fr->kind == SL_SSE_OVERSIZE) { /* too long to hold: forwarded as it comes, unread */
    f->last_dropped = false;
    if (!f->flags) return 0;
    out[0] = (struct sl_iov){fr->raw, fr->raw_len};
    return 1;
  }
  enum verdict verdict = V_FORWARD;
  size_t cs = 0, ce = 0;
  if (fr->data_lines) {
    f->events++;
    verdict = judge(f, fr->data, fr->data_len, &cs, &ce);
    if (verdict == V_CUT && fr->data_lines != 1) verdict = V_FORWARD;
  }
  f->last_dropped = verdict == V_DROP;
  if (!f->flags) return 0;
  if (verdict == V_DROP) {
    f->dropped++;
    return 0;
  }
  if (verdict == V_CUT) {
    out[0] = (struct sl_iov){fr->raw, fr->data_off + cs};
    out[1] = (struct sl_iov){fr->raw + fr->data_off + ce, fr->raw_len - fr->data_off - ce};
    return 2;
  }
  out[0] = (struct sl_iov){fr->raw, fr->raw_len};
  return 1;
}

struct feed_ctx {
  struct sl_usage_filter *f;
  struct sl_buf *out;
};

static int on_frame(void *ud, const struct sl_sse_frame *fr) {
  struct feed_ctx *c = ud;
  struct sl_iov v[2];
  size_t k = sl_usage_filter_frame(c->f, fr, v);
  for (size_t i = 0; i < k && c->out; i++)
    if (v[i].n) sl_buf_append(c->out, v[i].p, v[i].n);
  return 0;
}

int sl_usage_filter_feed(struct sl_usage_filter *f, const char *p, size_t n, struct sl_buf *out) {
  if (f->err) return f->err;
  if (!f->flags && out && n) sl_buf_append(out, p, n); /* observing only: the output is the input */
  struct feed_ctx c = {f, out};
  int rc = sl_sse_framer_feed(&f->fr, p, n, on_frame, &c);
  if (rc < 0) return f->err = rc;
  if (out && out->oom) return f->err = -ENOMEM;
  return 0;
}

int sl_usage_filter_finish(struct sl_usage_filter *f, struct sl_buf *out) {
  if (f->err) return f->err;
  struct feed_ctx c = {f, out};
  int rc = sl_sse_framer_finish(&f->fr, on_frame, &c);
  if (rc < 0) f->err = rc;
  if (!f->err && out && out->oom) f->err = -ENOMEM;
  return f->err;
}

/* ---- asking for usage ---- */

static const char kOpt[] = "\"stream_options\":{\"include_usage\":true}";
static const char kOptComma[] = "\"stream_options\":{\"include_usage\":true},";

static bool is_literal(const char *b, size_t s, size_t e, const char *lit) {
  size_t n = strlen(lit);
  return e - s == n && memcmp(b + s, lit, n) == 0;
}

int sl_usage_inject_stream_options(const char *body, size_t len, struct sl_usage_splice *sp) {
  sp->at = 0;
  sp->text = NULL;
  sp->len = 0;
  size_t vs, ve;
  int rc = sl_json_top_field(body, len, "stream", &vs, &ve);
  if (rc == -EINVAL) return -EINVAL;
  if (rc == -ENOENT) {
    /* still refuse a malformed body: an empty object says -ENOENT too */
    rc = sl_json_top_field(body, len, "stream_options", &vs, &ve);
    return rc == -EINVAL ? -EINVAL : SL_USAGE_ASK_NOT_STREAM;
  }
  if (!is_literal(body, vs, ve, "true")) return SL_USAGE_ASK_NOT_STREAM;
  rc = sl_json_top_field(body, len, "stream_options", &vs, &ve);
  if (rc == -EINVAL) return -EINVAL;
  if (rc == 0) {
    size_t us, ue;
    if (body[vs] == '{' && sl_json_top_field(body + vs, ve - vs, "include_usage", &us, &ue) == 0 &&
        is_literal(body + vs, us, ue, "true"))
      return SL_USAGE_ASK_CLIENT;
    return SL_USAGE_ASK_RESERIALISE;
  }
  /* absent: insert first thing in the object */
  size_t i = 0;
  while (i < len && is_ws(body[i])) i++;
  size_t k = i + 1; /* body[i] == '{' (the scan succeeded) */
  while (k < len && is_ws(body[k])) k++;
  bool empty = k < len && body[k] == '}';
  sp->at = i + 1;
  sp->text = empty ? kOpt : kOptComma;
  sp->len = empty ? sizeof kOpt - 1 : sizeof kOptComma - 1;
  return SL_USAGE_ASK_SPLICE;
}
