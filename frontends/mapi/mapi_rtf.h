/* frontends/mapi/mapi_rtf.h — PR_RTF_COMPRESSED: the MS-OXRTFCP
 * compression (LZFu) and the uncompressed "MELA" form, the RTF Outlook gets
 * for a plain-text or an HTML body (HTML encapsulated in RTF, MS-OXRTFEX),
 * and the way back: the text or HTML of an RTF body Outlook writes.
 *
 * All output is malloc'd and freed by the caller. Decompression stops at
 * MAPI_RTF_MAX_RAW bytes and checks the CRC, so hostile input cannot make it
 * allocate without bound or read out of range.
 */
#ifndef OUTPOST_MAPI_RTF_H
#define OUTPOST_MAPI_RTF_H

#include <stddef.h>
#include <stdint.h>

#define MAPI_RTF_MAX_RAW (64u << 20)

/* CRC-32 as MS-OXRTFCP computes it (table-driven, initial value 0, no final XOR). */
uint32_t mapi_rtf_crc(uint32_t crc, const uint8_t *p, size_t n);

/* Compresses raw RTF into the LZFu form (16-byte header + data). 0 or -1. */
int mapi_rtf_compress(const uint8_t *raw, size_t len, uint8_t **out, size_t *out_len);
/* Decompresses LZFu or MELA. 0, or -1 with a reason in err. */
int mapi_rtf_decompress(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, char *err, size_t errlen);

/* RTF for a UTF-8 plain-text body (\fromtext). NUL-terminated. */
char *mapi_rtf_from_text(const char *text, size_t len);
/* RTF with the UTF-8 HTML encapsulated (\fromhtml1). NUL-terminated. */
char *mapi_rtf_from_html(const char *html, size_t len);

/* What an RTF body holds. */
enum { MAPI_RTF_PLAIN = 0, MAPI_RTF_HTML = 1, MAPI_RTF_TEXT = 2 };
/* Extracts the body of RTF: the encapsulated HTML for \fromhtml1 (*kind
 * HTML), otherwise its text (*kind TEXT for \fromtext, PLAIN for native
 * RTF), as UTF-8, NUL-terminated. NULL on allocation failure. */
char *mapi_rtf_extract(const uint8_t *rtf, size_t len, int *kind, size_t *out_len);

#endif
