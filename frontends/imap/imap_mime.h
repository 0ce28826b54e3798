/* imap_mime.h — finds the byte range of a FETCH body section (RFC 3501
 * 6.4.5: part numbers, HEADER, TEXT, MIME) inside a MIME message by
 * scanning it through a range reader, so a 50 MB message is never in memory:
 * only header blocks (bounded) are read whole.
 */
#ifndef OUTPOST_IMAP_MIME_H
#define OUTPOST_IMAP_MIME_H

#include <stddef.h>
#include <stdint.h>

/* Reads up to len bytes at off; *got 0 at the end. 0 or -1 on failure. */
typedef int (*imap_range_read_fn)(void *ctx, uint64_t off, void *buf, size_t len, size_t *got);

struct imap_region {
    uint64_t start, end;
};

/* Locates the section given by part numbers and spec (enum
 * imap_section_spec) in a message of `total` bytes. On 0, *out is the byte
 * range to send (for HEADER.FIELDS: the header block to filter). A part that
 * does not exist gives an empty region (RFC 3501: empty string). -1 on a
 * read failure. */
int imap_mime_locate(imap_range_read_fn rd, void *ctx, uint64_t total, const uint32_t *part, size_t npart,
                     int spec, struct imap_region *out);

/* Filters a header block: keeps (want_not == 0) or drops (want_not != 0) the
 * fields named in names, and appends the blank line. Returns a malloc'd
 * buffer and its length in *outlen, or NULL on allocation failure. */
char *imap_mime_filter_header(const char *hdr, size_t len, char *const *names, size_t nnames, int want_not,
                              size_t *outlen);

#endif
