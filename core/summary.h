/* core/summary.h — an item's summary, computed once at ingest.
 *
 * ARCHITECTURE: "Summaries (envelope, size, body structure, subject,
 * addresses, dates) are computed once by the core at ingest. Once served, an
 * item's size, envelope and structure never change." This module computes
 * them from the content in its kind's format:
 *
 *   mail     RFC 5322 MIME: size, subject (RFC 2047 decoded, UTF-8), from/to/cc
 *            display strings, Message-ID (without <>), Date (ms), IMAP
 *            ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2, extended form, as
 *            Dovecot writes them), a plain-text preview and the text to index.
 *   event, task, note   iCalendar: SUMMARY → subject, DTSTART / DUE / DTSTAMP
 *            → date, UID → object_uid, ORGANIZER → from, DESCRIPTION → preview.
 *   contact  vCard 3.0: FN → subject, UID → object_uid, EMAIL → to.
 *
 * SIZES are the bytes of the content as stored and served (an IMAP front-end
 * serves stored bytes unchanged). For CRLF mail — what servers and IMAP APPEND
 * hand us — every number equals Dovecot's; for bare-LF mail Dovecot reports
 * sizes as if each LF were CRLF, Outpost the stored bytes.
 *
 * ENVELOPE and BODYSTRUCTURE are the values of the FETCH items, outer
 * parentheses included; strings with '"', '\\', CR, LF or 8-bit bytes are
 * literals ("{N}\r\n" + bytes), as Dovecot writes them.
 *
 * STREAMING: a builder takes the content in chunks (as the store reads it
 * from an outpost_reader and writes it to the storage) into a GMimeStream: a
 * memory stream up to OUTPOST_SUMMARY_SPOOL_BYTES, then an anonymous temporary
 * file. The MIME scanner reads that stream line by line, so a large message is
 * never held in memory (at most one line buffer, the header blocks and the
 * capped index text). Calendar and contact objects are parsed in memory
 * (at most OUTPOST_SUMMARY_OBJECT_MAX bytes): they are small.
 *
 * OWNERSHIP: every string the module stores in an outpost_item is owned by the
 * `struct outpost_summary` passed with it (its arena), valid until
 * outpost_summary_release. Item fields the module does not compute are left
 * as they were.
 *
 * THREADING: functions may run on any thread, concurrently on different
 * builders. outpost_summary_library_init (called by the functions here) sets
 * up GMime and libical once per process.
 */
#ifndef OUTPOST_CORE_SUMMARY_H
#define OUTPOST_CORE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include <outpost/item.h>
#include <outpost/transport.h>

#define OUTPOST_SUMMARY_SPOOL_BYTES (1u << 20)          /* in memory below this, temp file above */
#define OUTPOST_SUMMARY_OBJECT_MAX (64u << 20)          /* largest iCalendar / vCard accepted */
#define OUTPOST_SUMMARY_INDEX_MAX (1u << 20)            /* text kept for indexing */
#define OUTPOST_SUMMARY_PREVIEW_MAX 256                 /* bytes of preview (UTF-8, whole characters) */

/* The arena owning the strings of one summary, plus the text to index. */
struct outpost_summary {
    char **strs;
    size_t nstrs, cap;
    char *index_text;            /* UTF-8 text to index (subject, addresses, body), NUL-terminated, may be NULL */
    size_t index_len;
};

void outpost_summary_init(struct outpost_summary *s);
/* Frees every string; item fields pointing into it become dangling. */
void outpost_summary_release(struct outpost_summary *s);

/* Process-wide set-up of GMime and libical; safe to call repeatedly from any thread. */
void outpost_summary_library_init(void);

/* Incremental computation: feed the content in order, then finish. */
struct outpost_summary_builder;

/* kind: outpost_item_kind. NULL when out of memory. */
struct outpost_summary_builder *outpost_summary_builder_new(uint32_t kind);
/* The same with room reserved for size_hint bytes (the content's size when known, 0 if
 * not): no regrowing of the in-memory spool. */
struct outpost_summary_builder *outpost_summary_builder_new_sized(uint32_t kind, uint64_t size_hint);
/* 0, or -1 when the spool cannot grow (message in err). */
int outpost_summary_builder_feed(struct outpost_summary_builder *b, const void *data, size_t len, char *err,
                                 size_t errlen);
/* Whether the summary also computes the text to index (arena->index_text). On by default;
 * off (want 0) for mail, only the text the preview needs is decoded — the sync engine's
 * choice, the storages index the stored content themselves. Call before finish. */
void outpost_summary_builder_set_index(struct outpost_summary_builder *b, int want);
/* Total bytes fed so far. */
uint64_t outpost_summary_builder_size(const struct outpost_summary_builder *b);
/* Computes the summary into `it` (kind, size, subject, from, to, cc,
 * message_id, object_uid, envelope, bodystructure, preview, date) with
 * strings in `arena`. 0, or -1 with a reason in err (content unusable, e.g.
 * an iCalendar object without a component of its kind). */
int outpost_summary_builder_finish(struct outpost_summary_builder *b, outpost_item *it,
                                   struct outpost_summary *arena, char *err, size_t errlen);
/* Hands the bytes fed so far, in order, to fn (one call for content held in memory,
 * 64 KiB pieces from a spool file); before or after finish. 0, -1 when the spool
 * cannot be read (message in err), or fn's non-zero return. */
int outpost_summary_builder_content(struct outpost_summary_builder *b,
                                    int (*fn)(void *ctx, const void *data, size_t len), void *ctx, char *err,
                                    size_t errlen);
void outpost_summary_builder_free(struct outpost_summary_builder *b);
/* Makes `b` (its summary, if any, released) a new builder for an item of `kind`, as
 * outpost_summary_builder_new_sized would, keeping the allocation of its in-memory spool, so
 * that a sequence of items does not allocate (and fault in) a spool each: 0. -1 when it
 * cannot be reused (spooled to a file, over OUTPOST_SUMMARY_REUSE_BYTES, or its stream still
 * referenced): then free it. */
#define OUTPOST_SUMMARY_REUSE_BYTES (1u << 20)
int outpost_summary_builder_reuse(struct outpost_summary_builder *b, uint32_t kind, uint64_t size_hint);

/* The IMAP ENVELOPE of a mail the transport handed over without content (the server cannot
 * render its MIME), built from the properties it gave: date (RFC 5322 form, UTC), subject
 * (RFC 2047 encoded when not ASCII), from (also as Sender and Reply-To), to, cc (display lists
 * "Name <addr>, ..."), message_id; Bcc and In-Reply-To NIL. Sets it->envelope (a string of
 * `arena`). 0, or -1 out of memory. */
int outpost_summary_envelope_from_item(outpost_item *it, struct outpost_summary *arena);

/* One call over a buffer (tests, fuzzing, small objects). */
int outpost_summary_compute(uint32_t kind, const void *data, size_t len, outpost_item *it,
                            struct outpost_summary *arena, char *err, size_t errlen);

#endif
