/* Attachment upload (POST /webmail/api/jsonrpc/attachment-upload/, raw body or multipart) and
 * download (GET /webmail/api/download/attachment/<folder-uuid>/<n>/<part>/<name>). */
#ifndef OUTPOST_SIM_KERIO_ATTACH_H
#define OUTPOST_SIM_KERIO_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

/* Stores an upload (takes data) and returns the JSON-RPC reply body (malloc'd). */
char *attach_upload(struct sim *sim, const char *name, const char *ctype, unsigned char *data,
		    size_t len);

struct download;
/* Resolves a download path (after ".../attachment/"); NULL if there is no such attachment. */
struct download *attach_download_open(struct sim *sim, const char *path);
int64_t attach_download_size(const struct download *d);
const char *attach_download_type(const struct download *d);
const char *attach_download_name(const struct download *d);
/* Reads up to n bytes at off; returns the count. Needs no lock. */
size_t attach_download_read(struct download *d, uint64_t off, char *buf, size_t n);
void attach_download_free(void *d);

#endif
