/* mock_badanswer.c: chat completions that answer badly on purpose (--answer-mode), and token
 * logprobs for chat requests that ask for them ("logprobs": true), so a cascade's answer checks
 * can be driven end to end: a cheap deployment started with a mode answers badly, a strong one
 * without it answers well.
 *
 * The idea: every bad answer is a text in c->gen shown as the message content (the JSON shape,
 * whose pieces stand for tokens when streamed), or a change to the answer the request would get
 * anyway (cut, or its JSON broken), so whole and streamed answers come out of the existing
 * printers unchanged. To add a mode: a name in modes[], a case in mock_bad_chat. */
#include <string.h>

#include "mock.h"

static const char *const modes[MOCK_A_COUNT] = {
    "normal", "truncated", "refusal", "empty", "bad_json", "bad_tool_args", "wrong_math", "low_logprob",
    "say_no", "say_yes",
};

int mock_answer_mode_parse(const char *s)
{
	for (int i = 0; i < MOCK_A_COUNT; i++)
		if (strcmp(s, modes[i]) == 0)
			return i;
	return -1;
}

const char *mock_answer_mode_names(void)
{
	return "normal|truncated|refusal|empty|bad_json|bad_tool_args|wrong_math|low_logprob|say_no|say_yes";
}

static const char refusal_text[] = "I'm sorry, but I can't help with that request.";
/* 16 - 3 is 13, and 12 x 2 is 24: neither holds, and there is no "####" final answer */
static const char wrong_math_text[] = "Janet has 16 - 3 = 12 eggs left after breakfast.\n"
                                      "She sells them for 12 x $2 = $26 every day.\n"
                                      "So she makes about 26.5 dollars.";

/* Pieces: one per word, at most 64, at least 1. */
static void set_text_pieces(struct mock_resp *r, const char *s, size_t n)
{
	uint32_t words = 1;
	for (size_t i = 0; i < n; i++)
		if (s[i] == ' ' || s[i] == '\n')
			words++;
	r->ntok = words > 64 ? 64 : words;
	r->reset_at = r->ntok / 2;
}

/* The message content becomes the text s (shape JSON: one text in pieces). */
static void answer_text(struct mock_conn *c, const char *s, size_t n)
{
	struct mock_resp *r = &c->resp;
	r->shape = MOCK_S_JSON;
	r->text = (struct mock_span){(uint32_t)c->gen.len, (uint32_t)n};
	mock_buf_put(&c->gen, s, n);
	mock_buf_put(&c->gen, "", 1); /* a NUL after the span: an empty text reads as "" */
	r->capped = false;
	set_text_pieces(r, s, n);
}

/* r->text without its last byte(s): JSON that no longer parses ("{}" -> "{"). */
static void break_text(struct mock_resp *r)
{
	if (r->text.len > 1)
		r->text.len = r->text.len / 2 > 1 ? r->text.len / 2 : 1;
}

void mock_bad_chat(struct mock_conn *c, const cJSON *req)
{
	struct mock_resp *r = &c->resp;
	r->logprobs = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "logprobs"));
	switch ((enum mock_answer_mode)c->ctx->cfg.answer_mode) {
	case MOCK_A_TRUNCATED:
		if (r->shape == MOCK_S_WORDS) {
			r->ntok = r->ntok > 1 ? r->ntok / 2 : r->ntok;
		} else {
			break_text(r);
			set_text_pieces(r, mock_span_ptr(c, r->text), r->text.len);
		}
		r->reset_at = r->ntok / 2;
		r->capped = true; /* finish_reason "length" */
		break;
	case MOCK_A_REFUSAL:
		answer_text(c, refusal_text, sizeof refusal_text - 1);
		break;
	case MOCK_A_EMPTY:
		answer_text(c, "", 0);
		break;
	case MOCK_A_BAD_JSON:
		if (r->shape == MOCK_S_JSON)
			break_text(r);
		break;
	case MOCK_A_BAD_TOOL_ARGS:
		if (r->shape == MOCK_S_TOOL)
			break_text(r);
		break;
	case MOCK_A_WRONG_MATH:
		answer_text(c, wrong_math_text, sizeof wrong_math_text - 1);
		break;
	case MOCK_A_SAY_NO:
		answer_text(c, "No.", 3);
		break;
	case MOCK_A_SAY_YES:
		answer_text(c, "Yes.", 4);
		break;
	default:
		break;
	}
}

/* One token's entry: {"token":T,"logprob":L,"bytes":null,"top_logprobs":[]}. Deterministic:
 * normal tokens between -0.01 and -0.4, low_logprob ones between -4 and -6. */
static void put_entry(struct mock_conn *c, struct mock_buf *b, const char *t, size_t n, uint32_t i)
{
	uint64_t h = (c->resp.hash ^ (0x9E3779B97F4A7C15ull * (i + 1))) >> 40;
	double f = (double)(h % 1000) / 1000.0;
	double lp = c->ctx->cfg.answer_mode == MOCK_A_LOW_LOGPROB ? -4.0 - 2.0 * f : -0.01 - 0.39 * f;
	MOCK_PUTS(b, "{\"token\":");
	mock_buf_put_json_str(b, t, n);
	mock_buf_putf(b, ",\"logprob\":%.4f,\"bytes\":null,\"top_logprobs\":[]}", lp);
}

void mock_put_logprobs(struct mock_conn *c, struct mock_buf *b, const char *tok, size_t n)
{
	if (!c->resp.logprobs || !tok) {
		MOCK_PUTS(b, "null");
		return;
	}
	MOCK_PUTS(b, "{\"content\":[");
	put_entry(c, b, tok, n, c->resp.sent);
	MOCK_PUTS(b, "]}");
}

void mock_put_logprobs_whole(struct mock_conn *c, struct mock_buf *b)
{
	struct mock_resp *r = &c->resp;
	if (!r->logprobs) {
		MOCK_PUTS(b, "null");
		return;
	}
	MOCK_PUTS(b, "{\"content\":[");
	uint64_t rng = r->word_rng;
	for (uint32_t i = 0; i < r->ntok; i++) {
		const char *p;
		size_t n;
		if (r->shape == MOCK_S_WORDS) {
			p = mock_word(&rng, &n);
		} else {
			mock_piece(c, i, &p, &n);
		}
		if (i)
			MOCK_PUTS(b, ",");
		put_entry(c, b, p, n, i);
	}
	MOCK_PUTS(b, "]}");
}
