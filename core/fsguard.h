/* core/fsguard.h — refuses caches on network and FUSE file systems.
 *
 * SQLite and Firebird rely on POSIX locks and write ordering that NFS, SMB,
 * 9p, Ceph, AFS and most FUSE file systems do not honour; KOFF's Firebird
 * cache is known to corrupt on NAS. The core checks the cache directory with
 * this guard before any storage plugin opens it, so every engine gets it.
 */
#ifndef OUTPOST_CORE_FSGUARD_H
#define OUTPOST_CORE_FSGUARD_H

#include <stddef.h>

/* The file system type of the mount containing `path` according to a mount
 * table in /proc/mounts format (longest mount-point prefix wins). 0 and the
 * type in `type` when found, -1 otherwise. `path` must be canonical. */
int outpost_fs_type_from_mounts(const char *mounts, const char *path, char *type, size_t typelen);

/* 1 if a file-system type name is a network or FUSE file system (nfs, nfs4,
 * cifs, smb3, smbfs, 9p, ceph, afs, fuse, fuse.*), 0 otherwise ("fuseblk" is a
 * local disk through FUSE and is allowed). */
int outpost_fs_type_is_network(const char *type);

/* 1 if a statfs magic number is one of those file systems. */
int outpost_fs_magic_is_network(unsigned long magic);

/* Checks the directory that will hold the cache. 0 when it is local (or
 * `allow_network_fs`); -1 and a message naming the file system, the risk and
 * the override otherwise. */
int outpost_fsguard_check(const char *dir, int allow_network_fs, char *err, size_t errlen);

#endif
