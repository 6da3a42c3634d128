/* mock_buf.c: growable byte buffers, JSON string escaping, base64, and the free list of write
 * buffers for sluice-mock.
 *
 * The idea: responses are printed straight into a reusable buffer (no JSON tree on the way out),
 * write buffers are recycled through a free list so a request in steady state allocates nothing
 * here, and allocation failure is sticky (b->oom) so a builder checks once at the end. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

int mock_buf_reserve(struct mock_buf *b, size_t n)
{
	if (b->oom)
		return -ENOMEM;
	if (b->cap - b->len >= n)
		return 0;
	size_t need = b->len + n;
	if (need < b->len)
		goto fail;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p)
		goto fail;
	b->p = p;
	b->cap = cap;
	return 0;
fail:
	b->oom = true;
	return -ENOMEM;
}

void mock_buf_put(struct mock_buf *b, const void *s, size_t n)
{
	if (n == 0 || mock_buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void mock_buf_puts(struct mock_buf *b, const char *s)
{
	mock_buf_put(b, s, strlen(s));
}

void mock_buf_putf(struct mock_buf *b, const char *fmt, ...)
{
	va_list ap;
	if (mock_buf_reserve(b, 64))
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (mock_buf_reserve(b, (size_t)n + 1))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void mock_buf_put_u64(struct mock_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	mock_buf_put(b, tmp + i, sizeof tmp - i);
}

void mock_buf_put_i64(struct mock_buf *b, int64_t v)
{
	if (v < 0) {
		MOCK_PUTS(b, "-");
		mock_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		mock_buf_put_u64(b, (uint64_t)v);
	}
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c >= 0xc2 && c <= 0xdf)
		return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] > 0x9f)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] > 0x8f)
			return 0;
		return 4;
	}
	return 0;
}

void mock_buf_put_json_chars(struct mock_buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		size_t start = i;
		while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
			i++;
		mock_buf_put(b, s + start, i - start);
		if (i >= n)
			break;
		unsigned char ch = s[i];
		if (ch == '"') {
			MOCK_PUTS(b, "\\\"");
		} else if (ch == '\\') {
			MOCK_PUTS(b, "\\\\");
		} else if (ch == '\n') {
			MOCK_PUTS(b, "\\n");
		} else if (ch == '\r') {
			MOCK_PUTS(b, "\\r");
		} else if (ch == '\t') {
			MOCK_PUTS(b, "\\t");
		} else if (ch < 0x20) {
			static const char hex[] = "0123456789abcdef";
			char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
			mock_buf_put(b, esc, sizeof esc);
		} else {
			size_t l = utf8_seq(s + i, n - i);
			if (l) {
				mock_buf_put(b, s + i, l);
				i += l;
				continue;
			}
			MOCK_PUTS(b, "\\ufffd");
		}
		i++;
	}
}

void mock_buf_put_json_str(struct mock_buf *b, const char *s, size_t n)
{
	MOCK_PUTS(b, "\"");
	mock_buf_put_json_chars(b, s, n);
	MOCK_PUTS(b, "\"");
}

void mock_buf_put_base64(struct mock_buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t out = (n + 2) / 3 * 4;
	if (mock_buf_reserve(b, out))
		return;
	char *d = b->p + b->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*d++ = tab[v >> 18];
		*d++ = tab[(v >> 12) & 63];
		*d++ = tab[(v >> 6) & 63];
		*d++ = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		*d++ = tab[v >> 18];
		*d++ = tab[(v >> 12) & 63];
		*d++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*d++ = '=';
	}
	b->len += out;
}

void mock_buf_reset(struct mock_buf *b, size_t keep)
{
	b->len = 0;
	b->oom = false;
	if (b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

void mock_buf_free(struct mock_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

size_t mock_utf8_chars(const char *s, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += ((unsigned char)s[i] & 0xc0) != 0x80;
	return count;
}

struct mock_wbuf *mock_wbuf_get(struct mock_ctx *ctx)
{
	struct mock_wbuf *w = ctx->free_wbufs;
	if (w) {
		ctx->free_wbufs = w->next;
		ctx->n_free_wbufs--;
	} else {
		w = calloc(1, sizeof *w);
		if (!w)
			return NULL;
	}
	w->conn = NULL;
	w->next = NULL;
	w->b.len = 0;
	w->b.oom = false;
	w->off = w->body_off = w->cut = 0;
	w->flags = 0;
	return w;
}

void mock_wbuf_release(struct mock_ctx *ctx, struct mock_wbuf *w)
{
	if (!w)
		return;
	if (!ctx->stopping && ctx->n_free_wbufs < MOCK_WBUF_CACHE && w->b.cap <= MOCK_WBUF_KEEP) {
		w->next = ctx->free_wbufs;
		ctx->free_wbufs = w;
		ctx->n_free_wbufs++;
		return;
	}
	free(w->b.p);
	free(w);
}

void mock_wbuf_free_all(struct mock_ctx *ctx)
{
	while (ctx->free_wbufs) {
		struct mock_wbuf *w = ctx->free_wbufs;
		ctx->free_wbufs = w->next;
		free(w->b.p);
		free(w);
	}
	ctx->n_free_wbufs = 0;
}
