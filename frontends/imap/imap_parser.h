/* imap_parser.h — the IMAP command tokenizer (RFC 3501 section 9), a unit of
 * its own with no I/O so it can be fuzzed.
 *
 * A command arrives as lines and literals. The connection feeds each line
 * (without its CRLF) to imap_parser_line(); when the line ends in a literal
 * announcement ({n} or LITERAL+ {n+}) the parser asks for the literal, the
 * connection reads exactly n bytes (into memory, or a spill file for large
 * APPENDs) and hands them over with imap_parser_literal(), then feeds the
 * next line, which continues the same command. The result is a tree of
 * tokens: atoms, quoted strings, literals and parenthesised lists.
 *
 * An atom that contains '[' runs to the matching ']' (spaces and parentheses
 * included) and may continue after it, so `BODY.PEEK[HEADER.FIELDS (A B)]<0.9>`
 * is one atom; the FETCH grammar (imap_syntax.h) takes it apart.
 *
 * Limits (depth, token count, line length) turn hostile input into a parse
 * error with a reason, never into unbounded memory. Not thread-safe: one
 * parser per connection.
 */
#ifndef OUTPOST_IMAP_PARSER_H
#define OUTPOST_IMAP_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum imap_tok_type {
    IMAP_TOK_ATOM = 1,
    IMAP_TOK_STRING = 2,   /* quoted string, unescaped */
    IMAP_TOK_LITERAL = 3,  /* in memory (s/len) or spilled to a file (file/len) */
    IMAP_TOK_LIST = 4
};

struct imap_tok {
    int type;
    char *s;               /* NUL-terminated (atoms, strings, in-memory literals) */
    size_t len;
    FILE *file;            /* a spilled literal, positioned anywhere; owned by the token */
    int literal8;          /* reserved: ~{n} (BINARY) */
    struct imap_tok **kids;/* IMAP_TOK_LIST */
    size_t nkids, capkids;
};

struct imap_parser_limits {
    size_t max_tokens;     /* per command */
    size_t max_depth;      /* parenthesis nesting */
    size_t max_literal;    /* largest literal accepted */
};

enum imap_parse_result {
    IMAP_PARSE_DONE = 0,      /* a complete command: use imap_parser_tag/name/args */
    IMAP_PARSE_LITERAL = 1,   /* read a literal of *lit_size bytes, then call imap_parser_literal */
    IMAP_PARSE_ERROR = -1     /* syntax error: imap_parser_error says why; tag may be known */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *lim);
void imap_parser_free(struct imap_parser *p);
/* Forgets the current command (after DONE or ERROR). */
void imap_parser_reset(struct imap_parser *p);

/* Feeds one line (without CRLF). On IMAP_PARSE_LITERAL, *lit_size and
 * *lit_nonsync (LITERAL+) describe the literal that follows. A synchronising
 * literal larger than max_literal is an ERROR with imap_parser_too_big() set
 * (and *lit_size its size). A non-synchronising one that large, which the
 * client sends anyway, is IMAP_PARSE_LITERAL with imap_parser_too_big() set:
 * the caller reads and drops it, hands over nothing (imap_parser_literal with
 * NULL, NULL, 0) and goes on feeding lines; the command still ends DONE or
 * ERROR with imap_parser_too_big() set and its message in imap_parser_error,
 * and must not run. */
int imap_parser_line(struct imap_parser *p, const char *line, size_t len, uint64_t *lit_size, int *lit_nonsync);
/* Hands over the literal announced last: either `mem` (malloc'd, len bytes,
 * with one extra NUL byte allocated; ownership passes to the parser) or
 * `file` (ownership passes too). */
void imap_parser_literal(struct imap_parser *p, char *mem, FILE *file, size_t len);

/* The tag of the current command ("*" until known, NULL-safe). */
const char *imap_parser_tag(const struct imap_parser *p);
/* Command name, upper-cased ("UID FETCH" style for UID commands: the
 * parser joins UID with the next atom). NULL until known. */
const char *imap_parser_name(const struct imap_parser *p);
/* The arguments after the command name, as a list token. */
const struct imap_tok *imap_parser_args(const struct imap_parser *p);
const char *imap_parser_error(const struct imap_parser *p);
int imap_parser_too_big(const struct imap_parser *p);
/* Non-zero while a command is partly read (literal pending / continues). */
int imap_parser_in_command(const struct imap_parser *p);

/* Helpers on tokens. */
int imap_tok_is_string(const struct imap_tok *t);       /* atom, quoted or in-memory literal */
int imap_tok_atom_is(const struct imap_tok *t, const char *word); /* case-insensitive atom match */
void imap_tok_free(struct imap_tok *t);

#endif
