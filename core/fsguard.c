/* core/fsguard.c — network / FUSE file system detection (see fsguard.h). */
#include "fsguard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

/* Decodes the octal escapes (\040 for space) of /proc/mounts fields in place. */
static void unescape_mount_field(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
            r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static int is_prefix_dir(const char *mnt, const char *path)
{
    size_t n = strlen(mnt);
    if (n == 1 && mnt[0] == '/')
        return 1;
    return strncmp(mnt, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int outpost_fs_type_from_mounts(const char *mounts, const char *path, char *type, size_t typelen)
{
    size_t best = 0;
    int found = 0;
    const char *p = mounts;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[4096];
        if (len < sizeof line) {
            memcpy(line, p, len);
            line[len] = '\0';
            char dev[1024], mnt[2048], fstype[256];
            if (sscanf(line, "%1023s %2047s %255s", dev, mnt, fstype) == 3) {
                unescape_mount_field(mnt);
                size_t ml = strlen(mnt);
                /* Later mounts over the same point hide earlier ones: >= keeps the last. */
                if (is_prefix_dir(mnt, path) && (ml >= best || !found)) {
                    best = ml;
                    found = 1;
                    snprintf(type, typelen, "%s", fstype);
                }
            }
        }
        p = e ? e + 1 : NULL;
    }
    return found ? 0 : -1;
}

int outpost_fs_type_is_network(const char *t)
{
    static const char *const exact[] = { "nfs", "nfs4", "cifs", "smb3", "smbfs", "smb", "9p", "ceph",
                                         "afs", "kafs", "fuse", "glusterfs", "lustre", "ncpfs", "coda",
                                         "davfs", "sshfs", NULL };
    if (!strcmp(t, "fuseblk"))
        return 0;
    if (!strncmp(t, "fuse.", 5))
        return 1;
    for (int i = 0; exact[i]; i++)
        if (!strcmp(t, exact[i]))
            return 1;
    return 0;
}

int outpost_fs_magic_is_network(unsigned long m)
{
#ifdef _WIN32
    return m == 1; /* op_fs_info: a remote drive (GetDriveType DRIVE_REMOTE) */
#endif
    switch (m) {
    case 0x6969UL:      /* NFS */
    case 0x517BUL:      /* SMB */
    case 0xFF534D42UL:  /* CIFS */
    case 0xFE534D42UL:  /* SMB2 */
    case 0x01021997UL:  /* 9p (v9fs) */
    case 0x00C36400UL:  /* Ceph */
    case 0x5346414FUL:  /* AFS */
    case 0x6B414653UL:  /* kAFS */
        return 1;
    default:
        return 0;
    }
}

int outpost_fsguard_check(const char *dir, int allow, char *err, size_t errlen)
{
    unsigned long magic = 0;
    char *mounts = NULL;
    char why[512];
    char *real = op_realpath(dir);
    if (!real) {
        snprintf(err, errlen, "cache directory %s does not exist or cannot be resolved", dir);
        return -1;
    }
    if (op_fs_info(real, &magic, &mounts, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s", why);
        free(real);
        return -1;
    }
    char type[256] = "";
    int net = 0;
    if (mounts && outpost_fs_type_from_mounts(mounts, real, type, sizeof type) == 0)
        net = outpost_fs_type_is_network(type);
    /* FUSE's magic is shared by fuseblk, so only the mount table decides for FUSE. */
    if (!net && outpost_fs_magic_is_network(magic)) {
        net = 1;
        if (!*type)
            snprintf(type, sizeof type, "statfs type 0x%lx", magic);
    }
    free(mounts);
    if (net && !allow) {
        snprintf(err, errlen,
                 "refusing cache directory %s: it is on a network or FUSE file system (%s); databases on "
                 "network shares corrupt (KOFF's cache is known to corrupt on NAS). Move [core] data_dir or "
                 "[storage] path to a local disk, or set allow_network_fs = true in [storage] to accept the risk",
                 real, type);
        free(real);
        return -1;
    }
    free(real);
    return 0;
}
