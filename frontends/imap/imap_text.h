/* imap_text.h — the case-insensitive substring match of SEARCH strings
 * (RFC 3501 / RFC 9051 6.4.4) where the front-end compares text itself
 * rather than through the storage's full-text index: summary fields,
 * header fields and cached content.
 *
 * Text that is all ASCII on both sides is compared byte by byte ignoring
 * ASCII case. Otherwise both sides are mapped as the i;unicode-casemap
 * comparator prescribes (RFC 5051 section 2, the default comparator of
 * RFC 5255): each code point to its titlecase, then fully decomposed with
 * compatibility mappings (NFKD), and the titlecase mapping applied again to
 * what the decomposition yields (so a ligature such as U+FB01 matches "FI"
 * and "fi" alike). GLib's Unicode tables do the mapping. Bytes that are not
 * valid UTF-8 are compared as they are (RFC 5051 1(c): binary).
 *
 * No state: every function may be called from any thread.
 */
#ifndef OUTPOST_IMAP_TEXT_H
#define OUTPOST_IMAP_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "imap_mime.h" /* imap_range_read_fn */

/* Whether hay[0..hlen) contains needle[0..nlen). An empty needle matches
 * everything. Out of memory counts as no match. */
int imap_text_find(const char *hay, size_t hlen, const char *needle, size_t nlen);

/* The text with its diacritics removed: NFKD, then every combining mark
 * dropped ("Käse" gives "Kase"), the way a full-text index that ignores
 * diacritics sees it. Malloc'd; NULL when s is not UTF-8 or on OOM. */
char *imap_text_strip_marks(const char *s);

/* imap_text_find for NUL-terminated strings; a NULL hay is empty. */
int imap_text_contains(const char *hay, const char *needle);

/* Whether the text at [start, end) that rd reads (a message's content)
 * contains the NUL-terminated needle, read `chunk` bytes at a time: the tail
 * of each chunk where a match across the boundary could start is searched
 * again with the next. A read failure ends the scan (what was read counts). */
int imap_text_scan(imap_range_read_fn rd, void *ctx, uint64_t start, uint64_t end, const char *needle,
                   size_t chunk);

#endif
