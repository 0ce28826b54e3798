/* core/app.c — config, directories and storage opening shared by commands. */
#include "app.h"
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fsguard.h"
#include "host.h"
#include "log.h"
#include "platform/platform.h"

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s%c%s", a, op_path_sep(), b);
    return r;
}

char *outpost_default_config_path(void)
{
    char *dir = op_user_config_dir();
    if (!dir)
        return NULL;
    char *sub = path_join(dir, "outpost");
    free(dir);
    if (!sub)
        return NULL;
    char *p = path_join(sub, "outpost.ini");
    free(sub);
    return p;
}

int outpost_app_resolve(struct outpost_app *a, char *err, size_t errlen)
{
    free(a->data_dir);
    free(a->plugin_dirs);
    a->data_dir = a->plugin_dirs = NULL;
    const char *dd = outpost_config_get(a->cfg, "core", "data_dir");
    if (dd && *dd) {
        a->data_dir = outpost_expand_home(dd);
    } else {
        char *base = op_user_data_dir();
        a->data_dir = base ? path_join(base, "outpost") : NULL;
        free(base);
    }
    const char *pd = op_getenv("OUTPOST_PLUGIN_DIR");
    if (!pd || !*pd)
        pd = outpost_config_get(a->cfg, "core", "plugin_dir");
    a->plugin_dirs = pd && *pd ? strdup(pd) : outpost_loader_default_dirs();
    if (!a->data_dir || !a->plugin_dirs) {
        snprintf(err, errlen, "out of memory resolving directories");
        return -1;
    }
    return 0;
}

int outpost_app_load(struct outpost_app *a, const char *path, int missing_ok, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->config_path = path ? strdup(path) : outpost_default_config_path();
    if (!a->config_path) {
        snprintf(err, errlen, "cannot determine the config path (set --config)");
        return -1;
    }
    if (outpost_config_load(a->config_path, missing_ok, &a->cfg, err, errlen) != 0)
        return -1;
    outpost_config_declare_core(a->cfg);
    const char *lvl = outpost_config_get(a->cfg, "core", "log_level");
    int level = outpost_log_level_parse(lvl);
    if (level < 0) {
        snprintf(err, errlen, "%s:%d: [core] log_level = '%s': expected one of error, warning, notice, info, debug",
                 a->config_path, outpost_config_line(a->cfg, "core", "log_level"), lvl ? lvl : "");
        return -1;
    }
    outpost_log_setup(NULL, level);
    if (outpost_policy_validate(a->cfg, err, errlen) != 0)
        return -1;
    return outpost_app_resolve(a, err, errlen);
}

void outpost_app_free(struct outpost_app *a)
{
    outpost_config_free(a->cfg);
    free(a->config_path);
    free(a->data_dir);
    free(a->plugin_dirs);
    memset(a, 0, sizeof *a);
}

/* Whether a file can be made in `dir` (a probe file, removed again). */
static int dir_writable(const char *dir)
{
    char name[64];
    snprintf(name, sizeof name, ".write-probe-%ld", op_getpid());
    char *p = path_join(dir, name);
    if (!p)
        return 1;
    FILE *f = op_fopen_private(p);
    int ok = f != NULL;
    if (ok) {
        fclose(f);
        remove(p);
    }
    free(p);
    return ok;
}

void outpost_app_explain_unwritable(const struct outpost_app *a, char *err, size_t errlen)
{
    if (dir_writable(a->data_dir))
        return;
    char *was = strdup(err);
    snprintf(err, errlen, "the cache directory %s is not writable by this user (see [core] data_dir): %s",
             a->data_dir, was ? was : "");
    free(was);
}

int outpost_app_open_storage(struct outpost_app *a, struct outpost_open_storage *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    const char *name = outpost_config_get(a->cfg, "storage", "plugin");
    if (outpost_loader_load(a->plugin_dirs, OUTPOST_KIND_STORAGE, name, &o->plugin, err, errlen) != 0)
        return -1;
    outpost_config_declare(a->cfg, "storage", o->plugin->desc->config_keys);
    o->m = o->plugin->methods;
    int allow = 0;
    const char *an = outpost_config_get(a->cfg, "storage", "allow_network_fs");
    if (an && outpost_config_parse_bool(an, &allow) != 0) {
        snprintf(err, errlen, "%s:%d: [storage] allow_network_fs = '%s': expected true or false", a->config_path,
                 outpost_config_line(a->cfg, "storage", "allow_network_fs"), an);
        goto fail;
    }
    if (op_mkdir_p(a->data_dir, 0700, err, errlen) != 0)
        goto fail;
    if (outpost_fsguard_check(a->data_dir, allow, err, errlen) != 0)
        goto fail;
    if (allow)
        outpost_log(OUTPOST_LOG_WARNING, "core", "allow_network_fs = true: a cache on a network file system may corrupt");
    o->host = outpost_core_host_new(a->cfg, "storage", name, a->data_dir);
    if (!o->host) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (outpost_loader_module_init(o->plugin, o->host, err, errlen) != 0)
        goto fail;
    outpost_status st = o->m->create(o->host, &o->s);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "storage '%s': %s", name, st.message ? st.message : outpost_status_class_name(st.code));
        goto fail;
    }
    st = o->m->open(o->s);
    if (st.code != OUTPOST_OK) {
        snprintf(err, errlen, "storage '%s': cannot open the cache: %s", name,
                 st.message ? st.message : outpost_status_class_name(st.code));
        outpost_app_explain_unwritable(a, err, errlen);
        goto fail;
    }
    o->opened = 1;
    return 0;
fail:
    outpost_app_close_storage(o);
    return -1;
}

void outpost_app_close_storage(struct outpost_open_storage *o)
{
    if (o->s) {
        if (o->opened)
            o->m->close(o->s);
        o->m->destroy(o->s);
    }
    outpost_loader_unload(o->plugin);
    outpost_core_host_free(o->host);
    memset(o, 0, sizeof *o);
}
