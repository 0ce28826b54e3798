/* Fast compact JSON writer (see jsonout.h). */
#include "jsonout.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void reserve(struct buf *b, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

static void put(struct buf *b, const char *s, size_t n)
{
	reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void jsonout_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	reserve(b, n + 2);
	b->p[b->len++] = '"';
	size_t run = 0;
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		/* Skip 8 clean bytes at a time: none below 0x20, none '"' or '\\'. */
		while (i + 8 <= n) {
			uint64_t x;
			memcpy(&x, u + i, 8);
			const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
			uint64_t lt20 = (x - ones * 0x20) & ~x & highs;
			uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
			uint64_t hit = lt20 | ((q - ones) & ~q & highs) | ((bs - ones) & ~bs & highs);
			if (hit)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		unsigned char c = u[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(b, s + run, i - run);
		run = i + 1;
		char esc[8];
		size_t el = 2;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		put(b, esc, el);
	}
	put(b, s + run, n - run);
	put(b, "\"", 1);
}

void jsonout_value(struct buf *b, const json_t *v, const char *tag)
{
	char num[64];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		put(b, "{", 1);
		const char *key;
		json_t *m;
		int first = 1;
		json_object_foreach((json_t *)v, key, m) {
			if (!first)
				put(b, ",", 1);
			first = 0;
			jsonout_string(b, key, strlen(key));
			put(b, ":", 1);
			jsonout_value(b, m, tag);
		}
		put(b, "}", 1);
		break;
	}
	case JSON_ARRAY: {
		put(b, "[", 1);
		size_t n = json_array_size(v);
		for (size_t i = 0; i < n; i++) {
			if (i)
				put(b, ",", 1);
			jsonout_value(b, json_array_get(v, i), tag);
		}
		put(b, "]", 1);
		break;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (tag && n >= JSONOUT_TAG_LEN && !memcmp(s, tag, JSONOUT_TAG_LEN))
			put(b, s + JSONOUT_TAG_LEN, n - JSONOUT_TAG_LEN);
		else
			jsonout_string(b, s, n);
		break;
	}
	case JSON_INTEGER:
		put(b, num, (size_t)snprintf(num, sizeof num, "%" PRId64,
					     (int64_t)json_integer_value(v)));
		break;
	case JSON_REAL:
		put(b, num, (size_t)snprintf(num, sizeof num, "%.17g", json_real_value(v)));
		break;
	case JSON_TRUE:
		put(b, "true", 4);
		break;
	case JSON_FALSE:
		put(b, "false", 5);
		break;
	default:
		put(b, "null", 4);
	}
}

void jsonout_make_tag(char tag[JSONOUT_TAG_LEN + 1])
{
	tag[0] = '\x01';
	random_token(tag + 1, 16);
	tag[JSONOUT_TAG_LEN - 1] = '\x02';
	tag[JSONOUT_TAG_LEN] = 0;
}

json_t *jsonout_raw(const char *tag, const char *text, size_t len)
{
	char *s = xmalloc(JSONOUT_TAG_LEN + len + 1);
	memcpy(s, tag, JSONOUT_TAG_LEN);
	memcpy(s + JSONOUT_TAG_LEN, text, len);
	s[JSONOUT_TAG_LEN + len] = 0;
	json_t *v = json_stringn_nocheck(s, JSONOUT_TAG_LEN + len);
	free(s);
	return v;
}

char *jsonout_dump(const json_t *v, const char *tag, size_t *len)
{
	struct buf b = {0};
	b.cap = 256 * 1024;
	b.p = xmalloc(b.cap);
	jsonout_value(&b, v, tag);
	if (len)
		*len = b.len;
	return b.p;
}
