/* mock_schema.c: a deterministic value that conforms to a JSON Schema, printed as JSON text:
 * the arguments of the mock's tool calls and its structured output.
 *
 * The idea: one recursive walk that always takes the first choice. object: every property of
 * "properties" (required or not), in order; string: "text" (or the first enum / const value, a
 * sample for the common formats, padded or cut to minLength / maxLength); integer and number:
 * 1 moved into [minimum, maximum]; boolean: true; null: null; array: one item (minItems of them,
 * at most 16; a tuple "prefixItems" / array "items" gives each its item); anyOf / oneOf: the first
 * non-null alternative; allOf: the first; "$ref" to "#", "#/$defs/..." or "#/definitions/..." is
 * resolved against the root; a type list takes its first non-null type. Depth is capped at 32
 * (deeper: null), so recursive schemas end. To support another keyword: add it to value(). */
#include <math.h>
#include <string.h>

#include "mock.h"

#define MAX_DEPTH 32

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static void put_json(struct mock_buf *out, const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (!s) {
		out->oom = true;
		return;
	}
	mock_buf_puts(out, s);
	cJSON_free(s);
}

/* "#", "#/$defs/Name", "#/definitions/Name", or any "#/a/b" pointer (with ~0 ~1 escapes). */
static const cJSON *resolve(const cJSON *root, const char *ref)
{
	if (ref[0] != '#')
		return NULL;
	const cJSON *at = root;
	const char *p = ref + 1;
	while (*p == '/') {
		p++;
		char key[256];
		size_t k = 0;
		while (*p && *p != '/' && k < sizeof key - 1) {
			if (p[0] == '~' && p[1] == '0') {
				key[k++] = '~';
				p += 2;
			} else if (p[0] == '~' && p[1] == '1') {
				key[k++] = '/';
				p += 2;
			} else {
				key[k++] = *p++;
			}
		}
		key[k] = 0;
		at = get(at, key);
		if (!at)
			return NULL;
	}
	return *p ? NULL : at;
}

/* The first non-"null" type of "type" (a string or a list); NULL when none is given. */
static const char *type_of(const cJSON *s)
{
	const cJSON *t = get(s, "type");
	if (cJSON_IsString(t))
		return t->valuestring;
	if (cJSON_IsArray(t)) {
		const cJSON *it;
		const char *first = NULL;
		cJSON_ArrayForEach(it, t)
		{
			if (!cJSON_IsString(it))
				continue;
			if (strcmp(it->valuestring, "null") != 0)
				return it->valuestring;
			if (!first)
				first = it->valuestring;
		}
		return first;
	}
	return NULL;
}

static bool is_null_schema(const cJSON *s)
{
	const char *t = type_of(s);
	return t && strcmp(t, "null") == 0;
}

static void value(const cJSON *s, const cJSON *root, struct mock_buf *out, int depth);

static void string_value(const cJSON *s, struct mock_buf *out)
{
	const cJSON *fmt = get(s, "format");
	const char *v = "text";
	if (cJSON_IsString(fmt)) {
		const char *f = fmt->valuestring;
		if (!strcmp(f, "date-time"))
			v = "2026-01-01T00:00:00Z";
		else if (!strcmp(f, "date"))
			v = "2026-01-01";
		else if (!strcmp(f, "time"))
			v = "00:00:00Z";
		else if (!strcmp(f, "email"))
			v = "mock@example.com";
		else if (!strcmp(f, "uri") || !strcmp(f, "url"))
			v = "https://example.com/";
		else if (!strcmp(f, "uuid"))
			v = "00000000-0000-4000-8000-000000000000";
		else if (!strcmp(f, "ipv4"))
			v = "127.0.0.1";
	}
	size_t n = strlen(v);
	const cJSON *mn = get(s, "minLength"), *mx = get(s, "maxLength");
	size_t want = n;
	if (cJSON_IsNumber(mn) && mn->valuedouble > (double)want)
		want = mn->valuedouble > 4096 ? 4096 : (size_t)mn->valuedouble;
	if (cJSON_IsNumber(mx) && mx->valuedouble >= 0 && mx->valuedouble < (double)want)
		want = (size_t)mx->valuedouble;
	MOCK_PUTS(out, "\"");
	mock_buf_put(out, v, want < n ? want : n);
	for (size_t i = n; i < want; i++)
		MOCK_PUTS(out, "x");
	MOCK_PUTS(out, "\"");
}

static void number_value(const cJSON *s, struct mock_buf *out, bool integer)
{
	double v = 1;
	const cJSON *mn = get(s, "minimum"), *xmn = get(s, "exclusiveMinimum");
	const cJSON *mx = get(s, "maximum"), *xmx = get(s, "exclusiveMaximum");
	if (cJSON_IsNumber(mn) && v < mn->valuedouble)
		v = integer ? ceil(mn->valuedouble) : mn->valuedouble;
	if (cJSON_IsNumber(xmn) && v <= xmn->valuedouble)
		v = integer ? floor(xmn->valuedouble) + 1 : xmn->valuedouble + 1;
	if (cJSON_IsNumber(mx) && v > mx->valuedouble)
		v = integer ? floor(mx->valuedouble) : mx->valuedouble;
	if (cJSON_IsNumber(xmx) && v >= xmx->valuedouble)
		v = integer ? ceil(xmx->valuedouble) - 1 : xmx->valuedouble - 0.5;
	if (!isfinite(v))
		v = 1;
	if (integer || v == floor(v))
		mock_buf_putf(out, "%.0f", v);
	else
		mock_buf_putf(out, "%.17g", v);
}

static void array_value(const cJSON *s, const cJSON *root, struct mock_buf *out, int depth)
{
	const cJSON *items = get(s, "items"), *prefix = get(s, "prefixItems");
	if (cJSON_IsArray(items)) /* draft 4-2019 tuples */
		prefix = items, items = NULL;
	MOCK_PUTS(out, "[");
	int n = 0;
	if (cJSON_IsArray(prefix)) {
		const cJSON *it;
		cJSON_ArrayForEach(it, prefix)
		{
			if (n++)
				MOCK_PUTS(out, ",");
			value(it, root, out, depth + 1);
		}
	}
	const cJSON *mn = get(s, "minItems");
	int want = cJSON_IsNumber(mn) && mn->valuedouble > 1 ? (mn->valuedouble > 16 ? 16 : (int)mn->valuedouble) : 1;
	const cJSON *mx = get(s, "maxItems");
	if (cJSON_IsNumber(mx) && mx->valuedouble < want)
		want = mx->valuedouble < 0 ? 0 : (int)mx->valuedouble;
	if (!(cJSON_IsArray(prefix) && !items) && !cJSON_IsFalse(items)) {
		while (n < want) {
			if (n++)
				MOCK_PUTS(out, ",");
			value(items, root, out, depth + 1);
		}
	}
	MOCK_PUTS(out, "]");
}

static void object_value(const cJSON *s, const cJSON *root, struct mock_buf *out, int depth)
{
	MOCK_PUTS(out, "{");
	const cJSON *props = get(s, "properties"), *p;
	int n = 0;
	if (cJSON_IsObject(props)) {
		cJSON_ArrayForEach(p, props)
		{
			if (n++)
				MOCK_PUTS(out, ",");
			mock_buf_put_json_str(out, p->string, strlen(p->string));
			MOCK_PUTS(out, ":");
			value(p, root, out, depth + 1);
		}
	}
	MOCK_PUTS(out, "}");
}

/* The first alternative of a list, skipping {"type":"null"} when another exists. */
static const cJSON *first_alt(const cJSON *list)
{
	const cJSON *it, *first = NULL;
	cJSON_ArrayForEach(it, list)
	{
		if (!first)
			first = it;
		if (!is_null_schema(it))
			return it;
	}
	return first;
}

static void value(const cJSON *s, const cJSON *root, struct mock_buf *out, int depth)
{
	if (depth > MAX_DEPTH || cJSON_IsFalse(s)) {
		MOCK_PUTS(out, "null");
		return;
	}
	if (!cJSON_IsObject(s)) { /* true, or no schema: anything goes */
		MOCK_PUTS(out, "\"text\"");
		return;
	}
	const cJSON *ref = get(s, "$ref");
	if (cJSON_IsString(ref)) {
		const cJSON *t = resolve(root, ref->valuestring);
		value(t ? t : NULL, root, out, depth + 1);
		return;
	}
	const cJSON *k = get(s, "const");
	if (k) {
		put_json(out, k);
		return;
	}
	const cJSON *en = get(s, "enum");
	if (cJSON_IsArray(en) && en->child) {
		put_json(out, en->child);
		return;
	}
	static const char *const alts[] = {"anyOf", "oneOf", "allOf"};
	for (size_t i = 0; i < 3; i++) {
		const cJSON *a = get(s, alts[i]);
		if (cJSON_IsArray(a) && a->child) {
			value(first_alt(a), root, out, depth + 1);
			return;
		}
	}
	const char *t = type_of(s);
	if (!t)
		t = get(s, "properties") ? "object" : get(s, "items") || get(s, "prefixItems") ? "array" : "string";
	if (!strcmp(t, "object"))
		object_value(s, root, out, depth);
	else if (!strcmp(t, "array"))
		array_value(s, root, out, depth);
	else if (!strcmp(t, "integer"))
		number_value(s, out, true);
	else if (!strcmp(t, "number"))
		number_value(s, out, false);
	else if (!strcmp(t, "boolean"))
		MOCK_PUTS(out, "true");
	else if (!strcmp(t, "null"))
		MOCK_PUTS(out, "null");
	else
		string_value(s, out);
}

void mock_schema_value(const cJSON *schema, struct mock_buf *out)
{
	if (!cJSON_IsObject(schema)) { /* no parameters: an empty object */
		MOCK_PUTS(out, "{}");
		return;
	}
	value(schema, schema, out, 0);
}
