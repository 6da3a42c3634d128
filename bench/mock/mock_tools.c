/* mock_tools.c: when a generation answers with a tool call or with one JSON text instead of
 * words, and the pieces such an answer streams in.
 *
 * The idea: the decision is the same rule for the three APIs, each naming things its own way:
 * tools present, tool_choice not "none", and the conversation does not end with a tool result
 * (Anthropic: tool_choice "any" / "tool" calls whatever the conversation) -> call the named tool
 * (tool_choice) or the first one, its arguments the schema value of its parameters
 * (mock_schema.c). The name and arguments are copied into conn->gen, as the request JSON is freed
 * before the first byte; a stream sends the text in r->ntok pieces (at most 3), one per "token"
 * of the timing engine. To teach another API: add an enum mock_api case to tool_name_schema and
 * to forced. */
#include <string.h>

#include "mock.h"

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A tool's name and parameter schema as the API spells them; false for a tool the mock cannot
 * call (a hosted tool such as web_search). */
static bool tool_name_schema(const cJSON *t, enum mock_api api, const char **name,
                             const cJSON **schema)
{
	const char *type = str(t, "type");
	switch (api) {
	case MOCK_API_CHAT: {
		const cJSON *f = get(t, "function");
		if ((type && strcmp(type, "function") != 0) || !str(f, "name"))
			return false;
		*name = str(f, "name");
		*schema = get(f, "parameters");
		return true;
	}
	case MOCK_API_RESPONSES:
		if (!type || strcmp(type, "function") != 0 || !str(t, "name"))
			return false;
		*name = str(t, "name");
		*schema = get(t, "parameters");
		return true;
	case MOCK_API_ANTHROPIC:
		if ((type && strcmp(type, "custom") != 0) || !str(t, "name"))
			return false;
		*name = str(t, "name");
		*schema = get(t, "input_schema");
		return true;
	}
	return false;
}

bool mock_tool_pick(const cJSON *tools, const cJSON *choice, enum mock_api api, bool last_is_result,
                    const char **name, const cJSON **schema)
{
	if (!cJSON_IsArray(tools) || !tools->child)
		return false;
	const char *want = NULL; /* a tool named by tool_choice */
	bool forced = false;     /* Anthropic any / tool: call whatever the conversation */
	if (cJSON_IsString(choice)) {
		if (strcmp(choice->valuestring, "none") == 0)
			return false;
	} else if (cJSON_IsObject(choice)) {
		const char *type = str(choice, "type");
		if (type && strcmp(type, "none") == 0)
			return false;
		if (api == MOCK_API_CHAT)
			want = str(get(choice, "function"), "name");
		else
			want = type && (!strcmp(type, "function") || !strcmp(type, "tool")) ? str(choice, "name")
			                                                                     : NULL;
		forced = api == MOCK_API_ANTHROPIC && type && (!strcmp(type, "any") || !strcmp(type, "tool"));
	}
	if (last_is_result && !forced)
		return false;
	const cJSON *t;
	cJSON_ArrayForEach(t, tools)
	{
		const char *n;
		const cJSON *s;
		if (!tool_name_schema(t, api, &n, &s))
			continue;
		if (!want || strcmp(n, want) == 0) {
			*name = n;
			*schema = s;
			return true;
		}
	}
	if (want) { /* named but not listed: call it anyway, with no arguments */
		*name = want;
		*schema = NULL;
		return true;
	}
	return false;
}

static struct mock_span gen_put(struct mock_conn *c, const char *s, size_t n)
{
	struct mock_span sp = {(uint32_t)c->gen.len, (uint32_t)n};
	mock_buf_put(&c->gen, s, n);
	return sp;
}

static void set_pieces(struct mock_conn *c)
{
	struct mock_resp *r = &c->resp;
	r->ntok = r->text.len < 3 ? (r->text.len ? r->text.len : 1) : 3;
	r->capped = false;
	r->reset_at = r->ntok / 2;
}

void mock_tool_setup(struct mock_conn *c, const char *name, const cJSON *schema)
{
	struct mock_resp *r = &c->resp;
	r->shape = MOCK_S_TOOL;
	r->tool_name = gen_put(c, name, strlen(name));
	size_t start = c->gen.len;
	mock_schema_value(schema, &c->gen);
	r->text = (struct mock_span){(uint32_t)start, (uint32_t)(c->gen.len - start)};
	set_pieces(c);
}

void mock_json_setup(struct mock_conn *c, const cJSON *schema)
{
	struct mock_resp *r = &c->resp;
	r->shape = MOCK_S_JSON;
	size_t start = c->gen.len;
	if (schema)
		mock_schema_value(schema, &c->gen);
	else
		MOCK_PUTS(&c->gen, "{\"result\":\"text\"}");
	r->text = (struct mock_span){(uint32_t)start, (uint32_t)(c->gen.len - start)};
	set_pieces(c);
}

const char *mock_span_ptr(const struct mock_conn *c, struct mock_span s)
{
	if (c->gen.oom || !c->gen.p || (size_t)s.off + s.len > c->gen.len)
		return "";
	return c->gen.p + s.off;
}

void mock_put_span(const struct mock_conn *c, struct mock_buf *b, struct mock_span s)
{
	const char *p = mock_span_ptr(c, s);
	mock_buf_put_json_str(b, p, *p ? s.len : 0);
}

void mock_put_tool_input(const struct mock_conn *c, struct mock_buf *b, struct mock_span s)
{
	const char *in = mock_span_ptr(c, s);
	if (*in)
		mock_buf_put(b, in, s.len);
	else
		MOCK_PUTS(b, "{}");
}

static size_t cut(const char *p, size_t len, size_t at)
{
	while (at < len && ((unsigned char)p[at] & 0xC0) == 0x80)
		at++;
	return at;
}

void mock_piece(const struct mock_conn *c, uint32_t i, const char **p, size_t *n)
{
	const struct mock_resp *r = &c->resp;
	const char *s = mock_span_ptr(c, r->text);
	size_t len = *s ? r->text.len : 0;
	uint32_t k = r->ntok ? r->ntok : 1;
	size_t a = cut(s, len, (size_t)((uint64_t)len * i / k));
	size_t b = cut(s, len, (size_t)((uint64_t)len * (i + 1) / k));
	if (i + 1 >= k)
		b = len;
	*p = s + a;
	*n = b > a ? b - a : 0;
}

void mock_put_words_from(uint64_t rng, uint32_t ntok, struct mock_buf *out)
{
	for (uint32_t i = 0; i < ntok; i++) {
		size_t n;
		const char *w = mock_word(&rng, &n);
		if (i)
			MOCK_PUTS(out, " ");
		mock_buf_put(out, w, n);
	}
}

void mock_put_words(const struct mock_conn *c, struct mock_buf *out)
{
	mock_put_words_from(c->resp.hash, c->resp.ntok, out);
}
