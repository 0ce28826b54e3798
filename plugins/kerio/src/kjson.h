/* kjson.h — the JSON reader for Kerio replies: yajl's lexer building a jansson tree.
 *
 * Why not json_loadb: a Mails.getById page is ~10 KB of UTF-8-heavy JSON per mail, and
 * jansson's own lexer reads it at ~40 MB/s on the 2-core reference VM (40% of the CPU of an
 * initial sync under callgrind); yajl's lexer feeding the same jansson tree reads it at ~160 MB/s.
 * Only the lexing changes: the result is an ordinary jansson tree and jansson stays the only
 * JSON object model in the plugin. */
#ifndef OUTPOST_KERIO_KJSON_H
#define OUTPOST_KERIO_KJSON_H

#include <jansson.h>
#include <stddef.h>

/* Deepest value accepted, the top one at depth 1, an array's elements at 2 and so on (jansson's
 * JSON_PARSER_MAX_DEPTH, counted as jansson counts it). */
#define KJSON_MAX_DEPTH 2048

/* Parses `len` bytes as one JSON object or array with the rules json_loadb(buf, len,
 * JSON_REJECT_DUPLICATES, err) applies: duplicate object keys, strings that are not valid UTF-8
 * (raw or through \u escapes, lone surrogates included) or contain NUL, integers outside
 * json_int_t, reals that overflow, nesting deeper than KJSON_MAX_DEPTH, a scalar at the top, and
 * anything after the value are all errors. Returns a new reference, or NULL with `err` (may be
 * NULL) filled: text, line, column and position (byte offset) of the failure. Pure and
 * reentrant: any thread may call it; `buf` is only read and need not be NUL-terminated. */
json_t *kjson_loadb(const char *buf, size_t len, json_error_t *err);
/* kjson_loadb, and on failure *ended_early (may be NULL) says whether the text ended before the
 * value did: every byte read was valid so far and only the rest is missing (an empty text
 * included), as when a connection drops in the middle of a reply; 0 for any other error. */
json_t *kjson_loadb_ex(const char *buf, size_t len, json_error_t *err, int *ended_early);
/* kjson_loadb_ex without the values of the object members named in `skip` (a NULL-terminated
 * list, may be NULL), at any depth: they are read and checked (syntax, UTF-8, NUL, depth) but
 * not built, so neither their numbers' range nor a repeated such member is an error. For replies whose members the caller
 * never reads (a Mails.getById page: each mail's signInfo, encryptInfo, every address's
 * contactId), a seventh fewer instructions than building them. */
json_t *kjson_loadb_skip(const char *buf, size_t len, json_error_t *err, int *ended_early, const char *const *skip);

#endif
