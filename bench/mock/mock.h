/* mock.h: internal interfaces of sluice-mock, the imitation LLM provider used by tests and
 * benchmarks (never linked into sluice).
 *
 * The idea: one single-threaded libuv loop and one context struct (struct mock_ctx) that owns
 * every piece of mutable state: configuration, the seeded PRNG, counters, the free list of write
 * buffers and the list of connections. A connection serves one request at a time; its response is
 * either "whole" (one buffer, headers included, written after an optional delay) or a "stream"
 * (format-specific event builders driven by one timer per connection). Faults are decided once
 * per request, before any byte of the response is sent. */
#ifndef SLUICE_MOCK_H
#define SLUICE_MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <llhttp.h>
#include <uv.h>

/* ---- limits ---------------------------------------------------------------------------- */

#define MOCK_MAX_HEADERS      128
#define MOCK_MAX_URL          (16u * 1024)           /* request target; more -> 414 */
#define MOCK_MAX_HEADER_BYTES (64u * 1024)           /* all header names and values; -> 431 */
#define MOCK_MAX_BODY         (64u * 1024 * 1024)    /* request body; more -> 413 */
#define MOCK_MAX_PIPELINE     (1u * 1024 * 1024)     /* unparsed bytes kept while busy */
#define MOCK_READ_BUF         (64u * 1024)           /* the one read buffer all connections share */
#define MOCK_HDR_RESERVE      512                    /* room left before a body for its headers */
#define MOCK_MAX_TOKENS       1000000L
#define MOCK_LAST_N           16                     /* requests remembered for /mock/stats */
#define MOCK_LAST_BODY_MAX    (4u * 1024 * 1024)     /* longer bodies are kept truncated */
#define MOCK_MAX_PATHS        64                     /* distinct by_path keys; then "(other)" */
#define MOCK_WBUF_CACHE       1024                   /* write buffers kept on the free list */
#define MOCK_WBUF_KEEP        (64u * 1024)           /* larger ones are freed, not kept */
#define MOCK_MAX_EMBED_DIM    65536
#define MOCK_MAX_EMBED_INPUTS 2048                   /* as OpenAI */
#define MOCK_MAX_EMBED_VALUES (16u * 1024 * 1024)    /* inputs x dimensions per response */

/* ---- growable buffers (mock_buf.c) ------------------------------------------------------ */

/* Allocation failure is sticky: every put after it is a no-op and b->oom stays set, so a
 * builder checks once at the end. */
struct mock_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

int mock_buf_reserve(struct mock_buf *b, size_t n);
void mock_buf_put(struct mock_buf *b, const void *s, size_t n);
void mock_buf_puts(struct mock_buf *b, const char *s);
void mock_buf_putf(struct mock_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mock_buf_put_u64(struct mock_buf *b, uint64_t v);
void mock_buf_put_i64(struct mock_buf *b, int64_t v);
/* JSON string contents (no quotes); invalid UTF-8 becomes \ufffd. */
void mock_buf_put_json_chars(struct mock_buf *b, const char *s, size_t n);
/* A quoted JSON string. */
void mock_buf_put_json_str(struct mock_buf *b, const char *s, size_t n);
void mock_buf_put_base64(struct mock_buf *b, const unsigned char *s, size_t n);
/* Empty the buffer; give the memory back if it grew beyond keep. */
void mock_buf_reset(struct mock_buf *b, size_t keep);
void mock_buf_free(struct mock_buf *b);
size_t mock_utf8_chars(const char *s, size_t n);

#define MOCK_PUTS(b, lit) mock_buf_put((b), (lit), sizeof(lit) - 1)

/* ---- write buffers (mock_buf.c) --------------------------------------------------------- */

enum {
	MOCK_W_END = 1,   /* last bytes of the response: finish it when written */
	MOCK_W_RESET = 2, /* reset the connection (RST) once written */
	MOCK_W_CLOSE = 4, /* close the connection once written */
};

struct mock_conn;
struct mock_ctx;

struct mock_wbuf {
	uv_write_t req;         /* first member: the write callback casts back */
	struct mock_conn *conn;
	struct mock_wbuf *next; /* free list */
	struct mock_buf b;
	size_t off;             /* first byte to send (headers sit just before the body) */
	size_t body_off;        /* where the body starts */
	size_t cut;             /* if nonzero, send only up to this offset */
	int flags;
};

struct mock_wbuf *mock_wbuf_get(struct mock_ctx *ctx);
void mock_wbuf_release(struct mock_ctx *ctx, struct mock_wbuf *w);
void mock_wbuf_free_all(struct mock_ctx *ctx);

/* ---- randomness and text (mock_rand.c) -------------------------------------------------- */

uint64_t mock_rand_next(uint64_t *s);
double mock_rand_uniform(uint64_t *s);                      /* [0, 1) */
double mock_rand_lognormal(uint64_t *s, double median, double sigma);
uint64_t mock_hash(const void *p, size_t n);
const char *mock_word(uint64_t *s, size_t *len);           /* next word of the fixed list */

/* ---- configuration (mock.c) ------------------------------------------------------------- */

struct mock_config {
	const char *host;
	int port;
	uint64_t seed;
	double latency_ms, latency_sigma, ttft_ms, itl_ms;
	long tokens;
	double p_429, p_500, p_503, p_reset_before, p_reset_during, p_stall;
	double p_bad_crc, p_stream_exception; /* event streams only (Bedrock); drawn after the others */
	double retry_after;
	long stall_ms;
	char *models_buf;     /* the --models string, split in place */
	const char **models;
	size_t n_models;
	long embedding_dim;
	const char *answer_mode_str; /* --answer-mode (mock_badanswer.c) */
	int answer_mode;             /* enum mock_answer_mode */
	/* Bedrock (mock_aws.c): SigV4 checked when the access key id is given; a Bearer key too */
	const char *aws_access_key_id, *aws_secret_access_key, *aws_session_token, *aws_region;
	const char *bedrock_api_key;
	/* Vertex (mock_vertex.c): JWTs checked and bearer tokens required with the public key */
	const char *gcp_public_key, *gcp_client_email;
	long gcp_token_ttl;
	bool gemini_errors; /* --gemini-errors: OpenAI-route errors as Gemini's [{"error":...}] */
};

/* ---- faults (mock_faults.c) ------------------------------------------------------------- */

enum mock_fault {
	MOCK_F_NONE,
	MOCK_F_RESET_BEFORE,
	MOCK_F_STALL,
	MOCK_F_429,
	MOCK_F_500,
	MOCK_F_503,
	MOCK_F_RESET_DURING,
	MOCK_F_BAD_CRC,          /* event streams: a frame whose message CRC is wrong, then the end */
	MOCK_F_STREAM_EXCEPTION, /* event streams: a throttlingException frame, then the end */
	MOCK_F_STATUS, /* the per-request override asked for a given status */
	MOCK_F_COUNT
};

/* The request body's "mock" object. Strings point into the request's cJSON tree. */
struct mock_override {
	bool has_fault, has_tokens, has_ttft, has_itl, has_latency, has_stall, has_status,
	     has_retry_after, has_fault_at;
	enum mock_fault fault;
	long fault_at; /* event-stream faults: the token whose frame they replace (default 0) */
	long tokens, stall_ms;
	double ttft_ms, itl_ms, latency_ms, retry_after;
	int status;
	const char *error_message;
};

enum mock_fault mock_fault_draw(const struct mock_config *cfg, double u);
const char *mock_fault_name(enum mock_fault f);
int mock_override_parse(const cJSON *mock, struct mock_override *ov, char *err, size_t errlen);

/* ---- responses (mock_respond.c) --------------------------------------------------------- */

enum mock_phase {
	MOCK_P_IDLE,
	MOCK_P_STALL,   /* waiting stall_ms before the first byte */
	MOCK_P_DELAY,   /* whole response: waiting latency_ms */
	MOCK_P_TTFT,    /* stream: headers sent, waiting for the first token */
	MOCK_P_ITL,     /* stream: waiting between tokens */
	MOCK_P_WRITING, /* last bytes handed to libuv */
};

/* How one API streams: what goes before the first token, each token, and after the last. */
struct mock_stream_ops {
	void (*preamble)(struct mock_conn *c, struct mock_buf *out);
	void (*token)(struct mock_conn *c, struct mock_buf *out, const char *word, size_t n, bool first);
	void (*end)(struct mock_conn *c, struct mock_buf *out);
	/* Optional: the bad frame of MOCK_F_BAD_CRC / MOCK_F_STREAM_EXCEPTION (event streams). */
	void (*fault)(struct mock_conn *c, struct mock_buf *out);
};

/* The shape of error answers (mock_reply_status). */
enum mock_err_shape {
	MOCK_E_OPENAI,
	MOCK_E_ANTHROPIC,
	MOCK_E_BEDROCK, /* {"message"} + x-amzn-ErrorType */
	MOCK_E_GOOGLE,  /* {"error":{"code","message","status"}} */
	MOCK_E_GEMINI,  /* [{"error":{"code","message","status"}}] (--gemini-errors) */
};

/* What a generation answers: words (the default), a tool call, or one JSON text (structured
 * output); pieces of the last two stand for tokens when streamed (mock_tools.c). */
enum mock_shape {
	MOCK_S_WORDS,
	MOCK_S_TOOL,
	MOCK_S_JSON,
};

/* A slice of conn->gen. */
struct mock_span {
	uint32_t off, len;
};

struct mock_resp {
	bool active;        /* a request was dispatched and its response is not finished */
	bool api;           /* counts in stats (requests, inflight) */
	bool anthropic;     /* errors in Anthropic shape */
	bool keepalive, http10, head;
	bool stream, include_usage, capped, preamble_sent;
	enum mock_phase phase;
	enum mock_fault fault;
	const struct mock_stream_ops *ops;
	struct mock_wbuf *pending; /* whole response, built at dispatch, sent when due */
	double latency_ms, ttft_ms, itl_ms;
	uint64_t stall_ms;
	uint32_t ntok, sent, reset_at;
	uint64_t hash, word_rng, prompt_tokens;
	int64_t created;
	const char *default_model; /* e.g. an Azure deployment name from the path (into c->url) */
	size_t default_model_len;
	enum mock_shape shape;
	bool thinking;             /* Anthropic: a thinking block comes first */
	struct mock_span tool_name, text; /* text: the tool arguments or the JSON answer */
	struct mock_span echo;     /* Responses: request fields echoed in the response object */
	uint32_t seq;              /* Responses: the next event's sequence_number */
	uint64_t num;              /* a per-request counter (ids of tool calls, responses) */
	bool logprobs;             /* chat: the request asked for token logprobs */
	enum mock_err_shape err_shape;
	const char *stream_ctype;  /* NULL: text/event-stream */
	uint32_t fault_at;         /* MOCK_F_BAD_CRC / MOCK_F_STREAM_EXCEPTION: at this token */
	int cloud;                 /* enum mock_cloud_route of a Bedrock / Vertex path, 0 none */
	char path_model[256];      /* the model of a Bedrock / Vertex path, percent-decoded */
	const char *path_project, *path_location; /* Vertex: into c->url */
	size_t path_project_len, path_location_len;
};

void mock_resp_start(struct mock_conn *c);
void mock_resp_finish(struct mock_conn *c);
void mock_resp_abort(struct mock_conn *c, bool client_gone);
void mock_resp_on_timer(uv_timer_t *t);

/* ---- HTTP server (mock_http.c) ---------------------------------------------------------- */

struct mock_hdr {
	uint32_t name_off, name_len, val_off, val_len; /* into conn->hdrs; names lowercased */
};

enum mock_close {
	MOCK_CLOSE_GRACEFUL, /* server side: FIN */
	MOCK_CLOSE_RESET,    /* server side: RST (a fault) */
	MOCK_CLOSE_GONE,     /* the client went away (EOF, read or write error) */
};

struct mock_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	llhttp_t parser;
	struct mock_ctx *ctx;
	struct mock_conn *prev, *next;
	int open_handles;
	bool closing;   /* uv_close called; memory freed when both handles are closed */
	bool busy;      /* a request is dispatched; parsing waits */
	bool req_ready; /* llhttp paused at the end of a request */
	bool dead;      /* a protocol error reply is under way; input is ignored */
	bool read_stopped;
	bool in_field, in_value;
	int err_status; /* set by parser callbacks that hit a limit */
	/* unparsed bytes that arrived while busy (pipelining) */
	char *rbuf;
	size_t rpos, rlen, rcap;
	/* the request being parsed */
	struct mock_buf url, hdrs, body;
	struct mock_hdr hdr[MOCK_MAX_HEADERS];
	unsigned nhdr;
	size_t field_start, value_start;
	/* the response in progress */
	struct mock_resp resp;
	struct mock_buf model; /* the response's model name as a quoted JSON string */
	struct mock_buf gen;   /* text a response needs after the request JSON is gone */
};

int mock_http_listen(struct mock_ctx *ctx);
void mock_http_shutdown(struct mock_ctx *ctx);
void mock_conn_write(struct mock_conn *c, struct mock_wbuf *w, int flags);
void mock_conn_close(struct mock_conn *c, enum mock_close how);
void mock_conn_next(struct mock_conn *c, bool keepalive);
const char *mock_conn_header(const struct mock_conn *c, const char *name, size_t *len);
/* Header block for a whole response placed just before the body in w (body starts at
 * MOCK_HDR_RESERVE). extra: more header lines, each ending in \r\n, or NULL. */
int mock_http_whole(struct mock_wbuf *w, int status, const char *ctype, const char *extra,
                    bool keepalive, bool head);
void mock_http_stream_head(struct mock_wbuf *w, bool http10, bool keepalive, const char *ctype);
void mock_http_chunk(struct mock_wbuf *w, const char *data, size_t n, bool http10);
void mock_http_chunk_last(struct mock_wbuf *w, bool http10);

/* ---- routing and shared request helpers (mock_route.c) ---------------------------------- */

void mock_route_dispatch(struct mock_conn *c);
/* Start a whole response: a write buffer whose body begins at MOCK_HDR_RESERVE. */
struct mock_wbuf *mock_whole_begin(struct mock_conn *c);
/* Frame it and keep it as the pending response (NULL or out of memory: the connection will be
 * closed when the response is due). */
void mock_whole_end(struct mock_conn *c, struct mock_wbuf *w, int status, const char *ctype,
                    const char *extra);
/* An error reply in the shape of the request's API, with the usual type for the status. */
void mock_reply_status(struct mock_conn *c, int status, const char *message, const char *extra);
/* An error in Bedrock's shape with its own x-amzn-ErrorType (auth failures). */
void mock_reply_bedrock(struct mock_conn *c, int status, const char *type, const char *message);
/* Hash, words, created, model, stream flags and max_tokens cap of a generation request. */
void mock_gen_setup(struct mock_conn *c, const cJSON *req);
/* c->model from the request's "model" (else the path's deployment, else the first --models). */
void mock_set_model(struct mock_conn *c, const cJSON *req);
size_t mock_content_chars(const cJSON *content);
uint64_t mock_prompt_tokens(uint64_t chars);
void mock_put_text(struct mock_conn *c, struct mock_buf *out); /* ntok words, JSON-safe */

/* ---- APIs (mock_openai.c, mock_anthropic.c) --------------------------------------------- */

void mock_openai_error_body(struct mock_buf *b, const char *message, const char *type,
                            const char *code);
void mock_openai_chat(struct mock_conn *c, const cJSON *req);
void mock_openai_completions(struct mock_conn *c, const cJSON *req);
void mock_openai_embeddings(struct mock_conn *c, const cJSON *req);
void mock_openai_models(struct mock_conn *c, const char *id, size_t id_len);
void mock_anthropic_error_body(struct mock_buf *b, const char *type, const char *message);
void mock_anthropic_messages(struct mock_conn *c, const cJSON *req);
extern const struct mock_stream_ops mock_anthropic_msg_ops;
/* A unit vector of dim floats seeded by the input's hash (as /embeddings gives it), JSON. */
void mock_put_embedding(struct mock_conn *c, struct mock_buf *b, const cJSON *in, long dim);
void mock_anthropic_count_tokens(struct mock_conn *c, const cJSON *req);
void mock_openai_responses(struct mock_conn *c, const cJSON *req);

/* ---- the other endpoints (mock_endpoints.c) ------------------------------------------------- */

void mock_openai_moderations(struct mock_conn *c, const cJSON *req);
void mock_rerank(struct mock_conn *c, const cJSON *req);
void mock_openai_images(struct mock_conn *c, const cJSON *req);
void mock_openai_speech(struct mock_conn *c, const cJSON *req);
/* multipart/form-data: the body is not JSON; the route parses it itself. */
/* Its fields as a JSON object {model, response_format, bytes, mock} (NULL and a 400 sent when
 * the body is not well-formed multipart/form-data). */
cJSON *mock_transcription_request(struct mock_conn *c);
void mock_openai_transcriptions(struct mock_conn *c, const cJSON *req);

/* ---- schemas, tool calls and JSON answers (mock_schema.c, mock_tools.c) -------------------- */

/* A deterministic value conforming to a JSON Schema, as JSON text ("{}" for no schema). */
void mock_schema_value(const cJSON *schema, struct mock_buf *out);

enum mock_api { MOCK_API_CHAT, MOCK_API_RESPONSES, MOCK_API_ANTHROPIC };

/* Should this request answer with a tool call? Then the tool's name and schema (NULL: none).
 * last_is_result: the conversation ends with a tool result (each API says it differently). */
bool mock_tool_pick(const cJSON *tools, const cJSON *choice, enum mock_api api, bool last_is_result,
                    const char **name, const cJSON **schema);
/* Make the response a tool call: name and arguments into c->gen, shape, and ntok = pieces. */
void mock_tool_setup(struct mock_conn *c, const char *name, const cJSON *schema);
/* Make the response one JSON text: a schema's value, or {"result":"text"} for schema NULL. */
void mock_json_setup(struct mock_conn *c, const cJSON *schema);
/* Piece i (of r->ntok) of r->text, never splitting a UTF-8 sequence. */
void mock_piece(const struct mock_conn *c, uint32_t i, const char **p, size_t *n);
/* The words of a generation from its start (whatever a stream already used), JSON-safe. */
void mock_put_words(const struct mock_conn *c, struct mock_buf *out);
/* ntok words drawn from rng, space-separated (the text of answers and their replays). */
void mock_put_words_from(uint64_t rng, uint32_t ntok, struct mock_buf *out);
const char *mock_span_ptr(const struct mock_conn *c, struct mock_span s);
/* A span as a quoted JSON string ("" when it could not be kept). */
void mock_put_span(const struct mock_conn *c, struct mock_buf *b, struct mock_span s);
/* A tool call's input as a JSON object value: the generated arguments, or {} (Anthropic's and
 * Bedrock's answers carry the input as an object, not a string). */
void mock_put_tool_input(const struct mock_conn *c, struct mock_buf *b, struct mock_span s);

/* ---- answers bad on purpose, and token logprobs (mock_badanswer.c) ------------------------- */

enum mock_answer_mode {
	MOCK_A_NORMAL,
	MOCK_A_TRUNCATED,     /* finish_reason "length", the text cut */
	MOCK_A_REFUSAL,       /* an apology-refusal text */
	MOCK_A_EMPTY,         /* content "" */
	MOCK_A_BAD_JSON,      /* response_format JSON asked: invalid JSON (else normal) */
	MOCK_A_BAD_TOOL_ARGS, /* tool calls whose arguments are not valid JSON */
	MOCK_A_WRONG_MATH,    /* a maths answer whose arithmetic does not hold, no "####" */
	MOCK_A_LOW_LOGPROB,   /* normal answer, very low token logprobs */
	MOCK_A_SAY_NO,        /* the content is "No." (a judge that rejects) */
	MOCK_A_SAY_YES,       /* the content is "Yes." (a judge that accepts) */
	MOCK_A_COUNT
};

int mock_answer_mode_parse(const char *s); /* the mode, or -1 */
const char *mock_answer_mode_names(void);
/* A chat request's answer made bad by --answer-mode, and r->logprobs; call after the shape. */
void mock_bad_chat(struct mock_conn *c, const cJSON *req);
/* "logprobs" of a streamed chunk carrying token tok (NULL: no token): null, or one entry. */
void mock_put_logprobs(struct mock_conn *c, struct mock_buf *b, const char *tok, size_t n);
/* "logprobs" of a whole chat answer: null, or an entry per token. */
void mock_put_logprobs_whole(struct mock_conn *c, struct mock_buf *b);

/* ---- Bedrock and Vertex (mock_bedrock.c, mock_aws.c, mock_vertex.c) ------------------------ */

enum mock_cloud_route {
	MOCK_C_NONE,
	MOCK_C_CONVERSE,           /* POST /model/{id}/converse */
	MOCK_C_CONVERSE_STREAM,    /* POST /model/{id}/converse-stream */
	MOCK_C_INVOKE,             /* POST /model/{id}/invoke */
	MOCK_C_INVOKE_STREAM,      /* POST /model/{id}/invoke-with-response-stream */
	MOCK_C_GCP_TOKEN,          /* POST /token */
	MOCK_C_VERTEX_RAW,         /* .../publishers/anthropic/models/{m}:rawPredict */
	MOCK_C_VERTEX_STREAM_RAW,  /* .../publishers/anthropic/models/{m}:streamRawPredict */
	MOCK_C_VERTEX_CHAT,        /* .../endpoints/openapi/chat/completions */
};

/* A Bedrock or Vertex path: the route (model, project, location into c->resp), or MOCK_C_NONE;
 * -1 for a Bedrock / Vertex path whose model id does not decode. */
int mock_cloud_match(struct mock_conn *c, const char *p, size_t n);
static inline bool mock_cloud_is_bedrock(int r)
{
	return r >= MOCK_C_CONVERSE && r <= MOCK_C_INVOKE_STREAM;
}
/* Bedrock auth (SigV4 or a Bedrock API key, when configured): true when the request may go
 * on; else the 403 answer is set. */
bool mock_aws_check(struct mock_conn *c, const char *path, size_t path_len);
/* Vertex: the Bearer token check of the model routes (true: go on; else the 401 is set). */
bool mock_vertex_check(struct mock_conn *c);
/* POST /token: the JWT-bearer exchange. */
void mock_gcp_token(struct mock_conn *c);
void mock_bedrock_converse(struct mock_conn *c, cJSON *req);
void mock_bedrock_invoke(struct mock_conn *c, cJSON *req);
void mock_vertex_generate(struct mock_conn *c, cJSON *req);
/* invoke / rawPredict body checks (anthropic_version, no model, stream as the path says);
 * false: the 400 is set. */
bool mock_anthropic_cloud_body(struct mock_conn *c, cJSON *req, const char *version,
                               bool stream_allowed);
void mock_bedrock_free(void);
int mock_cloud_init(struct mock_ctx *ctx); /* after the options: load the GCP key (-1: exit) */
void mock_cloud_free(struct mock_ctx *ctx);

/* ---- stats (mock_stats.c) --------------------------------------------------------------- */

struct mock_last {
	struct mock_buf b; /* method, path, url, header bytes and body, back to back */
	struct mock_hdr hdr[MOCK_MAX_HEADERS];
	unsigned nhdr;
	size_t method_len, path_len, url_len, hdrs_len, body_len;
	bool body_truncated;
	char cloud[400]; /* a JSON object of the Bedrock / Vertex path's parts, or "" */
};

struct mock_path_count {
	char *path;
	uint64_t n;
};

struct mock_stats {
	uint64_t requests, streams_started, streams_completed, streams_aborted;
	uint64_t connections_accepted;
	uint64_t token_exchanges, auth_failures; /* Vertex /token answers given; 401/403s of auth */
	uint64_t inflight, connections_open; /* gauges: not zeroed by /mock/reset */
	uint64_t faults[MOCK_F_COUNT];
	struct mock_path_count paths[MOCK_MAX_PATHS];
	unsigned npaths;
	uint64_t other_paths;
	struct mock_last last[MOCK_LAST_N];
	unsigned last_next, last_count;
};

void mock_stats_record(struct mock_conn *c, const char *method, const char *path, size_t path_len);
void mock_stats_render(struct mock_ctx *ctx, struct mock_buf *out);
void mock_stats_reset(struct mock_ctx *ctx);
/* Notes the cloud path's parts on the last recorded request. */
void mock_stats_note_cloud(struct mock_conn *c);
void mock_stats_free(struct mock_ctx *ctx);

/* ---- the context -------------------------------------------------------------------------- */

struct mock_ctx {
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_signal_t sigterm, sigint;
	llhttp_settings_t settings;
	struct mock_config cfg;
	uint64_t rng;              /* faults and latency jitter */
	int64_t started;           /* unix time, "created" of models */
	int port;                  /* the bound port */
	bool stopping;
	struct mock_conn *conns;
	struct mock_wbuf *free_wbufs;
	unsigned n_free_wbufs;
	char *read_buf;            /* MOCK_READ_BUF bytes, shared by all connections */
	struct mock_buf scratch;   /* stream events before chunk framing */
	struct mock_buf fscratch;  /* embedding vectors */
	struct mock_stats stats;
	uint64_t serial;           /* API requests ever: ids that must differ (resp_mock_<n>) */
	void *gcp_pk;              /* mbedtls_pk_context of --gcp-public-key, or NULL */
	int64_t *gcp_tokens;       /* expiry (ms, monotonic wall clock) of token n at [n - 1] */
	size_t n_gcp_tokens, cap_gcp_tokens;
};

#endif
