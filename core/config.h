/* core/config.h — outpost.ini: parsing (inih), declared keys, validation.
 *
 * The core and every loaded plugin declare the keys they read (struct
 * outpost_config_key, abi.h). validate() warns about keys nobody declared
 * (file:line) and fails on a missing required key or a bad value, naming
 * section, key and what is expected. A config is read-only once loaded and
 * may be shared between threads.
 */
#ifndef OUTPOST_CORE_CONFIG_H
#define OUTPOST_CORE_CONFIG_H

#include <stddef.h>

#include <outpost/abi.h>

struct outpost_config;

/* Loads `path`. A missing file is an error unless `missing_ok`, in which case
 * an empty config is returned. A syntax error names file:line. */
int outpost_config_load(const char *path, int missing_ok, struct outpost_config **out, char *err,
                        size_t errlen);
/* Parses INI text held in memory; `name` stands for the file in messages. */
int outpost_config_parse_text(const char *text, const char *name, struct outpost_config **out, char *err,
                              size_t errlen);
/* An empty config (for tests and `init`). */
struct outpost_config *outpost_config_new(const char *path);
void outpost_config_free(struct outpost_config *c);

const char *outpost_config_path(const struct outpost_config *c);
/* Sets a value (last one wins), as if it were read from the file. */
int outpost_config_set(struct outpost_config *c, const char *section, const char *key, const char *value);

/* Declares keys of a section; `keys` must outlive the config. A section
 * declared with a key named "*" accepts any key (e.g. [policy]). */
int outpost_config_declare(struct outpost_config *c, const char *section, const outpost_config_key *keys);

/* Declares in `c` every section and keys declared in `from` (a reloaded config
 * learns the keys the running plugins declared); `from` must outlive `c`'s use
 * of them as for outpost_config_declare. */
int outpost_config_declare_from(struct outpost_config *c, const struct outpost_config *from);

/* Value of section.key as written, else the declared default, else NULL. A
 * declared path or secret file written as ~/... comes back as $HOME/... */
const char *outpost_config_get(const struct outpost_config *c, const char *section, const char *key);
/* The line a key was read from (0 if not from the file). */
int outpost_config_line(const struct outpost_config *c, const char *section, const char *key);

/* A copy of `p` with a leading ~ or ~/ replaced by $HOME (a plain copy
 * otherwise); NULL when out of memory. The caller frees it. */
char *outpost_expand_home(const char *p);

/* The authority of a URL (what follows scheme:// up to the path, query or fragment;
 * all of `url` up to those without a scheme): its start, its length in *len. */
const char *outpost_url_authority(const char *url, size_t *len);

/* The host a URL names, as the account identity compares it (core/engine.c): without
 * user info and port, ASCII letters lowercased, a trailing dot (the fully qualified
 * form) dropped, an IPv6 literal kept in its brackets. Names are never resolved:
 * "localhost" and "127.0.0.1" stay two hosts. Writes at most len bytes (NUL included)
 * into out; returns the host's length. */
size_t outpost_url_host(const char *url, char *out, size_t len);

/* Normalises a host name in place as outpost_url_host does (lowercase, no trailing dot). */
void outpost_host_normalise(char *host);

/* Whether a URL carries a password in its authority (scheme://user:password@host):
 * such a value is refused by validate, since messages name URLs. */
int outpost_config_url_has_password(const char *v);

/* Parses typed values; return 0 on success, -1 if malformed. */
int outpost_config_parse_bool(const char *v, int *out);
/* Integers accept a unit suffix: s, m, h, d (returned in seconds), k, M, G (bytes). */
int outpost_config_parse_int(const char *v, long long *out);

/* Splits a list value ("imap, mapi": names separated by commas and/or spaces)
 * into at most `max` names of up to 63 bytes (longer ones are cut); returns how
 * many. `v` may be NULL (none). */
size_t outpost_config_split_list(const char *v, char (*names)[64], size_t max);

/* Validates every value against the declarations. Warnings (unknown keys) go
 * to warn(ctx, line); the first error goes to err and -1 is returned. Only
 * sections in `required_sections` (NULL-terminated, may be NULL) enforce
 * their required keys. */
int outpost_config_validate(const struct outpost_config *c, const char *const *required_sections,
                            void (*warn)(void *ctx, const char *msg), void *warn_ctx, char *err, size_t errlen);

/* Iterates over every value read: fn(section, key, value, line). */
void outpost_config_each(const struct outpost_config *c,
                         void (*fn)(void *ctx, const char *section, const char *key, const char *value, int line),
                         void *ctx);

/* The core's own declared keys, per section (NULL-terminated arrays). */
extern const outpost_config_key outpost_core_keys_core[];
extern const outpost_config_key outpost_core_keys_storage[];
extern const outpost_config_key outpost_core_keys_account[];
extern const outpost_config_key outpost_core_keys_imap[];
extern const outpost_config_key outpost_core_keys_policy[];
/* Declares all of the above. */
void outpost_config_declare_core(struct outpost_config *c);

#endif
