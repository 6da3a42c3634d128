/* load_body.c: the bytes of each request sluice-load sends.
 *
 * The idea: everything is decided before the run. The body (the default chat body, a file, or
 * an inline string) is edited once with cJSON for --model, --stream and --unique, and the whole
 * request is kept as fixed bytes that every connection writes as they are. With --unique the
 * body is kept in two halves around a placeholder, and each request only renders its Content-
 * Length and a token "<run id>-<sequence>" between them; the run id changes from run to run so
 * a second run misses a cache filled by the first. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "load.h"

#define PLACEHOLDER "\x01SLUICE_LOAD_UNIQUE\x01"
#define PLACEHOLDER_JSON "\\u0001SLUICE_LOAD_UNIQUE\\u0001"

int load_buf_put(struct load_buf *b, const void *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

void load_buf_free(struct load_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int read_file(const char *path, struct load_buf *out, char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "--body %s: %s", path, strerror(errno));
		return -1;
	}
	char chunk[65536];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (load_buf_put(out, chunk, n) < 0) {
			snprintf(err, errlen, "--body %s: out of memory", path);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "--body %s: read error", path);
		rc = -1;
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

static bool method_has_body(const char *m)
{
	return strcasecmp(m, "GET") != 0 && strcasecmp(m, "HEAD") != 0 &&
	       strcasecmp(m, "DELETE") != 0 && strcasecmp(m, "OPTIONS") != 0;
}

/* Append the placeholder to a JSON string item; true if it was one. */
static bool mark_string(cJSON *it)
{
	if (!cJSON_IsString(it) || !it->valuestring)
		return false;
	size_t n = strlen(it->valuestring);
	char *s = malloc(n + sizeof " #" PLACEHOLDER);
	if (!s)
		return false;
	memcpy(s, it->valuestring, n);
	memcpy(s + n, " #" PLACEHOLDER, sizeof " #" PLACEHOLDER);
	bool ok = cJSON_SetValuestring(it, s) != NULL;
	free(s);
	return ok;
}

/* Where --unique puts its token: the first message's content (a string, or the first text
 * part), else prompt, else input (strings, or the first string of an array). */
static const char *mark_unique(cJSON *root)
{
	cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
	cJSON *m0 = cJSON_IsArray(msgs) ? cJSON_GetArrayItem(msgs, 0) : NULL;
	if (cJSON_IsObject(m0)) {
		cJSON *c = cJSON_GetObjectItemCaseSensitive(m0, "content");
		if (mark_string(c))
			return "messages[0].content";
		if (cJSON_IsArray(c)) {
			cJSON *part;
			cJSON_ArrayForEach(part, c)
			{
				if (mark_string(cJSON_GetObjectItemCaseSensitive(part, "text")))
					return "messages[0].content[].text";
			}
		}
	}
	static const char *const keys[] = {"prompt", "input"};
	for (size_t k = 0; k < 2; k++) {
		cJSON *p = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
		if (mark_string(p))
			return keys[k];
		if (cJSON_IsArray(p) && mark_string(cJSON_GetArrayItem(p, 0)))
			return keys[k];
	}
	return NULL;
}

static int set_field(cJSON *root, const char *name, cJSON *v)
{
	if (!v)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(root, name))
		return cJSON_ReplaceItemInObjectCaseSensitive(root, name, v) ? 0 : -1;
	return cJSON_AddItemToObject(root, name, v) ? 0 : -1;
}

/* The body into t->pre (and, with --unique, t->post). */
static int build_body(struct load_tmpl *t, const struct load_opts *o, char *err, size_t errlen)
{
	struct load_buf raw = {0};
	bool given = o->body_file || o->body_json;
	if (o->body_file) {
		if (read_file(o->body_file, &raw, err, errlen) < 0)
			return -1;
	} else if (o->body_json) {
		if (load_buf_put(&raw, o->body_json, strlen(o->body_json)) < 0)
			goto oom;
	} else if (!method_has_body(o->method)) {
		if (o->stream || o->unique || o->model_set) {
			snprintf(err, errlen, "--stream, --unique and --model need a request body; %s has "
			                      "none unless --body or --body-json gives one", o->method);
			return -1;
		}
		t->has_body = false;
		return 0;
	}
	t->has_body = true;
	bool edit = !given || o->stream || o->unique || o->model_set;
	if (!edit) {
		t->pre = raw.p ? raw.p : strdup("");
		t->pre_len = raw.len;
		return t->pre ? 0 : -1;
	}
	cJSON *root;
	if (given) {
		if (load_buf_put(&raw, "", 1) < 0)
			goto oom;
		const char *end = NULL;
		root = cJSON_ParseWithOpts(raw.p, &end, true);
		if (!root || !cJSON_IsObject(root)) {
			snprintf(err, errlen, "the body is not a JSON object, so --model, --stream and "
			                      "--unique cannot edit it");
			cJSON_Delete(root);
			load_buf_free(&raw);
			return -1;
		}
	} else {
		root = cJSON_CreateObject();
		cJSON *msgs = cJSON_CreateArray();
		cJSON *m = cJSON_CreateObject();
		if (!root || !msgs || !m || !cJSON_AddStringToObject(m, "role", "user") ||
		    !cJSON_AddStringToObject(m, "content", "Hello") ||
		    !cJSON_AddItemToArray(msgs, m) || !cJSON_AddStringToObject(root, "model", o->model) ||
		    !cJSON_AddItemToObject(root, "messages", msgs)) {
			cJSON_Delete(root);
			load_buf_free(&raw);
			goto oom;
		}
	}
	load_buf_free(&raw);
	if (given && o->model_set && set_field(root, "model", cJSON_CreateString(o->model)) < 0)
		goto oom_tree;
	if (o->stream && set_field(root, "stream", cJSON_CreateTrue()) < 0)
		goto oom_tree;
	if (o->unique) {
		t->unique_where = mark_unique(root);
		if (!t->unique_where) {
			snprintf(err, errlen, "--unique: the body has no string in messages[0].content, "
			                      "prompt or input to put the token in");
			cJSON_Delete(root);
			return -1;
		}
	}
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!s)
		goto oom;
	if (o->unique) {
		char *ph = strstr(s, PLACEHOLDER_JSON);
		if (!ph) {
			snprintf(err, errlen, "--unique: placeholder lost in serialisation");
			free(s);
			return -1;
		}
		t->unique = true;
		t->pre_len = (size_t)(ph - s);
		t->post = strdup(ph + strlen(PLACEHOLDER_JSON));
		t->post_len = t->post ? strlen(t->post) : 0;
		*ph = 0;
		t->pre = s;
		if (!t->post)
			goto oom;
	} else {
		t->pre = s;
		t->pre_len = strlen(s);
	}
	return 0;
oom_tree:
	cJSON_Delete(root);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static bool user_has(const struct load_opts *o, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < o->n_headers; i++)
		if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
			return true;
	return false;
}

int load_tmpl_build(struct load_tmpl *t, const struct load_opts *o, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (build_body(t, o, err, errlen) < 0)
		return -1;
	struct load_buf h = {0};
	int bad = 0;
	bad |= load_buf_put(&h, o->method, strlen(o->method));
	bad |= load_buf_put(&h, " ", 1);
	bad |= load_buf_put(&h, o->path, strlen(o->path));
	bad |= load_buf_put(&h, " HTTP/1.1\r\n", 11);
	if (!user_has(o, "host")) {
		bad |= load_buf_put(&h, "Host: ", 6);
		bad |= load_buf_put(&h, o->host_header, strlen(o->host_header));
		bad |= load_buf_put(&h, "\r\n", 2);
	}
	if (!user_has(o, "user-agent"))
		bad |= load_buf_put(&h, "User-Agent: sluice-load/" LOAD_VERSION "\r\n",
		                    strlen("User-Agent: sluice-load/" LOAD_VERSION "\r\n"));
	if (t->has_body && !user_has(o, "content-type"))
		bad |= load_buf_put(&h, "Content-Type: application/json\r\n", 32);
	if (o->stream && !user_has(o, "accept"))
		bad |= load_buf_put(&h, "Accept: text/event-stream\r\n", 27);
	for (size_t i = 0; i < o->n_headers; i++) {
		const char *hd = o->headers[i];
		const char *colon = strchr(hd, ':');
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		bad |= load_buf_put(&h, hd, (size_t)(colon - hd));
		bad |= load_buf_put(&h, ": ", 2);
		bad |= load_buf_put(&h, v, strlen(v));
		bad |= load_buf_put(&h, "\r\n", 2);
	}
	if (t->has_body)
		bad |= load_buf_put(&h, "Content-Length: ", 16);
	if (bad) {
		load_buf_free(&h);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->head = h.p;
	t->head_len = h.len;
	if (t->unique) {
		uint64_t x = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ uv_hrtime() ^
		             ((uint64_t)getpid() << 32);
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ULL;
		x ^= x >> 29;
		snprintf(t->run_id, sizeof t->run_id, "%08x", (unsigned)(x & 0xffffffffu));
		/* head + length (20) + CRLFCRLF + pre + run id + '-' + seq (20) + post */
		t->max_len = t->head_len + 20 + 4 + t->pre_len + 8 + 1 + 20 + t->post_len;
		return 0;
	}
	char lenbuf[32];
	int ln = t->has_body ? snprintf(lenbuf, sizeof lenbuf, "%zu\r\n\r\n", t->pre_len)
	                     : snprintf(lenbuf, sizeof lenbuf, "\r\n");
	t->fixed_len = t->head_len + (size_t)ln + (t->has_body ? t->pre_len : 0);
	t->fixed = malloc(t->fixed_len);
	if (!t->fixed) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(t->fixed, t->head, t->head_len);
	memcpy(t->fixed + t->head_len, lenbuf, (size_t)ln);
	if (t->has_body)
		memcpy(t->fixed + t->head_len + ln, t->pre, t->pre_len);
	return 0;
}

static size_t put_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t load_tmpl_render(const struct load_tmpl *t, uint64_t seq, char *out)
{
	char tok[32];
	size_t tn = 8;
	memcpy(tok, t->run_id, 8);
	tok[tn++] = '-';
	tn += put_u64(tok + tn, seq);
	size_t blen = t->pre_len + tn + t->post_len;
	char *p = out;
	memcpy(p, t->head, t->head_len);
	p += t->head_len;
	p += put_u64(p, blen);
	memcpy(p, "\r\n\r\n", 4);
	p += 4;
	memcpy(p, t->pre, t->pre_len);
	p += t->pre_len;
	memcpy(p, tok, tn);
	p += tn;
	memcpy(p, t->post, t->post_len);
	p += t->post_len;
	return (size_t)(p - out);
}

void load_tmpl_free(struct load_tmpl *t)
{
	free(t->head);
	free(t->pre);
	free(t->post);
	free(t->fixed);
	memset(t, 0, sizeof *t);
}
