/* core/cli.c — the `outpost` command line (also started as `outpostd`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "config.h"
#include "daemon.h"
#include "policy.h"
#include "report.h"
#include "repair.h"
#include "session.h"
#include "fsguard.h"
#include "host.h"
#include "log.h"
#include "platform/platform.h"

#ifndef OUTPOST_VERSION
#define OUTPOST_VERSION "0.0.0"
#endif

/* Exit codes: 0 ok, 1 failure, 2 usage error or not available in this build. */
enum { EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: outpost [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "Outpost keeps a groupware account (mail, calendar, contacts, tasks, notes)\n"
    "in a local cache that clients use offline, and replays edits to the server.\n"
    "\n"
    "commands:\n"
    "  init [flags]          write a config and create the cache (interactive on a terminal)\n"
    "       --transport NAME --url URL --user USER --password-file FILE\n"
    "       --storage NAME --data-dir DIR --ca-file FILE --force\n"
    "  sync [--once]         synchronise with the server\n"
    "  run                   run the daemon (sync and front-ends); also `outpostd`\n"
    "  status [--json]       per-folder state, pending edits and errors\n"
    "  plugins [--json]      list every plugin found: kind, name, version, ABI\n"
    "  check [--repair]      validate the config and the cache; --repair drops damaged\n"
    "                        cached content so that the next sync fetches it again\n"
    "  audit [--json] [--prune DAYS]  every local edit and what became of it;\n"
    "                        --prune drops confirmed entries older than DAYS\n"
    "  reload                have the running daemon re-read the config (as SIGHUP)\n"
    "  policy [--json]       every folder's cache policy (full or headers) and where it comes from\n"
    "  policy FOLDER MODE [AGE]  set it: MODE full|headers|default, AGE e.g. 365d\n"
    "  demo                  sync a generated account from the built-in simulator\n"
    "\n"
    "options:\n"
    "  --config FILE         config file (default $XDG_CONFIG_HOME/outpost/outpost.ini)\n"
    "  -h, --help            show this help; after a command, that command's usage\n"
    "  --version             show the version and ABI\n"
    "\n"
    "See outpost(1) and outpost.ini(5).\n";

/* `outpost COMMAND --help`: one command's usage (no config is read). */
static const struct {
    const char *name, *text;
} command_help[] = {
    { "init", "usage: outpost init [--transport NAME] [--url URL] [--user USER] [--password-file FILE]\n"
              "                    [--storage NAME] [--data-dir DIR] [--ca-file FILE] [--force]\n"
              "Write the config file (mode 600) and create an empty cache. On a terminal, asks for\n"
              "what the flags do not give; otherwise --url and --user are required. Relative paths\n"
              "are written as absolute ones. IMAP clients log in with the same user and password\n"
              "file ([imap] section). --force overwrites an existing config.\n" },
    { "sync", "usage: outpost sync [--once]\n"
              "Replay local edits, then fetch the server's changes. With --once, one cycle and exit\n"
              "(status 1 when it failed); without, keep syncing in the foreground (no front-ends)\n"
              "until interrupted. When a daemon runs, it does one cycle and this prints the status.\n" },
    { "run", "usage: outpost run   (or: outpostd)\n"
             "Run the daemon: sync, on-demand fetches, front-ends and the control socket.\n"
             "SIGTERM stops it; SIGHUP reloads the config.\n" },
    { "status", "usage: outpost status [--json]\n"
                "Per folder: items, unread, pending edits, last sync, state and last error; from the\n"
                "running daemon, or from the cache when none runs.\n" },
    { "plugins", "usage: outpost plugins [--json]\n"
                 "Every plugin file found: kind, name, version, ABI, or why it does not load.\n"
                 "--json adds each plugin's config section and keys.\n" },
    { "check", "usage: outpost check [--repair]\n"
               "Validate the config (unknown keys are warnings, bad values errors) and the cache's\n"
               "integrity. --repair drops cached content that does not read back; the next sync\n"
               "fetches it again.\n" },
    { "audit", "usage: outpost audit [--json] [--prune DAYS]\n"
               "Every local edit and what became of it. --prune DAYS drops confirmed entries\n"
               "older than DAYS days.\n" },
    { "reload", "usage: outpost reload\n"
                "Have the running daemon re-read the config (as SIGHUP does): credentials, log level,\n"
                "policies and front-end settings. A config with a bad value is refused and the\n"
                "running one kept. Exit 1 when no daemon runs on the cache.\n" },
    { "policy", "usage: outpost policy [--json]\n"
                "       outpost policy FOLDER full|headers [AGE]\n"
                "       outpost policy FOLDER default\n"
                "List every folder's cache policy, or set one in [policy] (AGE e.g. 365d); a running\n"
                "daemon reloads it.\n" },
    { "demo", "usage: outpost demo\n"
              "Sync a generated account from the built-in Kerio simulator (source tree only).\n" },
};

static const char *help_for(const char *cmd)
{
    for (size_t i = 0; i < sizeof command_help / sizeof *command_help; i++)
        if (!strcmp(command_help[i].name, cmd))
            return command_help[i].text;
    return NULL;
}

/* ---- plugins ---- */

struct plugins_ctx {
    json_t *arr;
    int json;
    int count;
};

/* A plugin's declared config keys for `plugins --json`: name, type, required, default,
 * choices (enums) and help, as the plugin declares them. */
static json_t *keys_json(const outpost_config_key *k)
{
    static const char *const types[] = { "string", "int", "bool", "path", "secret_file", "command", "enum" };
    json_t *a = json_array();
    for (; k && k->name; k++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:s?, s:s?, s:s?}", "name", k->name, "type",
                                           k->type < sizeof types / sizeof *types ? types[k->type] : "unknown",
                                           "required", k->required != 0, "default", k->def, "choices", k->choices,
                                           "help", k->help));
    return a;
}

static void on_plugin(void *vctx, const char *path, const outpost_loaded_plugin *p, const char *error)
{
    struct plugins_ctx *c = vctx;
    c->count++;
    const char *base = strrchr(path, op_path_sep());
    base = base ? base + 1 : path;
    char abi[32] = "";
    if (p)
        snprintf(abi, sizeof abi, "%u.%u", p->desc->abi_major, p->desc->abi_minor);
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "kind", p ? json_string(outpost_kind_name(p->desc->kind)) : json_null());
        json_object_set_new(o, "name", p && p->desc->name ? json_string(p->desc->name) : json_null());
        json_object_set_new(o, "version", p && p->desc->version ? json_string(p->desc->version) : json_null());
        json_object_set_new(o, "abi", p ? json_string(abi) : json_null());
        json_object_set_new(o, "description",
                            p && p->desc->description ? json_string(p->desc->description) : json_null());
        json_object_set_new(o, "section", p && p->desc->section ? json_string(p->desc->section) : json_null());
        json_object_set_new(o, "config_keys", p ? keys_json(p->desc->config_keys) : json_null());
        json_object_set_new(o, "loaded", json_boolean(p != NULL));
        json_object_set_new(o, "error", error ? json_string(error) : json_null());
        json_array_append_new(c->arr, o);
    } else if (p) {
        printf("%-10s %-12s %-10s ABI %-5s %s\n", outpost_kind_name(p->desc->kind), p->desc->name,
               p->desc->version ? p->desc->version : "", abi, base);
    } else {
        printf("%-10s %-12s %-10s ABI %-5s %s: %s\n", "-", "-", "-", "-", base, error);
    }
}

static int cmd_plugins(struct outpost_app *a, int argc, char **argv)
{
    struct plugins_ctx c = { NULL, 0, 0 };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            c.json = 1;
        else {
            fprintf(stderr, "outpost plugins: unknown option %s\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (c.json)
        c.arr = json_array();
    else
        printf("%-10s %-12s %-10s %-9s %s\n", "KIND", "NAME", "VERSION", "ABI", "FILE");
    outpost_loader_scan(a->plugin_dirs, on_plugin, &c);
    if (c.json) {
        char *s = json_dumps(c.arr, JSON_INDENT(2));
        puts(s ? s : "[]");
        free(s);
        json_decref(c.arr);
    } else if (!c.count) {
        printf("(no plugins in %s)\n", a->plugin_dirs);
    }
    return 0;
}

/* ---- check ---- */

/* The transport reads its settings when an instance is made (no connection
 * yet): a URL it cannot use fails here as it would fail the first sync. */
static int check_transport(struct outpost_app *a, outpost_loaded_plugin *tp, char *err, size_t errlen)
{
    if (!tp)
        return 0;
    struct outpost_host *h = outpost_core_host_new(a->cfg, "account", tp->desc->name, a->data_dir);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    if (outpost_loader_module_init(tp, h, err, errlen) == 0) {
        const struct outpost_transport_methods *m = tp->methods;
        struct outpost_transport *t = NULL;
        outpost_status st = m->create(h, &t);
        if (st.code == OUTPOST_OK) {
            m->destroy(t);
            rc = 0;
        } else {
            snprintf(err, errlen, "%s: transport '%s': %s", a->config_path, tp->desc->name,
                     st.message ? st.message : outpost_status_class_name(st.code));
        }
    }
    outpost_core_host_free(h);
    return rc;
}

static int cmd_check(struct outpost_app *a, int argc, char **argv)
{
    char err[2048];
    int repair = argc == 2 && !strcmp(argv[1], "--repair");
    if (argc > 1 && !repair) {
        fprintf(stderr, "usage: outpost check [--repair]\n");
        return EXIT_USAGE;
    }
    if (!op_is_file(a->config_path)) {
        fprintf(stderr, "outpost: no config at %s (create one with: outpost init)\n", a->config_path);
        return 1;
    }
    char terr[2400] = "";
    const char *tname = outpost_config_get(a->cfg, "account", "transport");
    outpost_loaded_plugin *tp = NULL;
    int rc = 1;
    if (tname && outpost_loader_load(a->plugin_dirs, OUTPOST_KIND_TRANSPORT, tname, &tp, err, sizeof err) == 0) {
        outpost_config_declare(a->cfg, tp->desc->section ? tp->desc->section : "account", tp->desc->config_keys);
    } else if (tname) {
        /* an error (sync cannot start without it), after what else check finds */
        snprintf(terr, sizeof terr, "%s:%d: [account] transport = '%s': %s", a->config_path,
                 outpost_config_line(a->cfg, "account", "transport"), tname, err);
    }
    /* the front-ends' sections, as the daemon declares them when it starts them */
    char names[8][64];
    size_t nfe = outpost_config_split_list(outpost_config_get(a->cfg, "core", "frontends"), names, 8);
    outpost_loaded_plugin *fe[8] = { NULL };
    for (size_t i = 0; i < nfe; i++) {
        if (outpost_loader_load(a->plugin_dirs, OUTPOST_KIND_FRONTEND, names[i], &fe[i], err, sizeof err) == 0)
            outpost_config_declare(a->cfg, fe[i]->desc->section ? fe[i]->desc->section : fe[i]->desc->name,
                                   fe[i]->desc->config_keys);
        else
            outpost_log(OUTPOST_LOG_WARNING, "check", "front-end %s: %s", names[i], err);
    }
    /* A running daemon holds the cache (Firebird: exclusively) and checks it on
     * request; --repair needs the cache itself. */
    char cerr[256];
    json_t *daemon = repair ? NULL : outpost_control_request(a, "check", cerr, sizeof cerr);
    struct outpost_open_storage st;
    memset(&st, 0, sizeof st);
    if (daemon) {
        /* the storage plugin only declares its keys */
        const char *sname = outpost_config_get(a->cfg, "storage", "plugin");
        if (outpost_loader_load(a->plugin_dirs, OUTPOST_KIND_STORAGE, sname, &st.plugin, err, sizeof err) != 0) {
            fprintf(stderr, "outpost check: %s\n", err);
            goto out;
        }
        outpost_config_declare(a->cfg, "storage", st.plugin->desc->config_keys);
    } else if (outpost_app_open_storage(a, &st, err, sizeof err) != 0) {
        fprintf(stderr, "outpost check: %s\n", err);
        goto out;
    }
    static const char *const required[] = { "core", "storage", "account", NULL };
    if (outpost_config_validate(a->cfg, required, outpost_config_log_warning, NULL, err, sizeof err) != 0 ||
        (*terr && snprintf(err, sizeof err, "%s", terr) > 0) || check_transport(a, tp, err, sizeof err) != 0) {
        fprintf(stderr, "outpost check: %s\n", err);
        outpost_app_close_storage(&st);
        goto out;
    }
    printf("config:  ok (%s)\n", a->config_path);
    if (daemon) {
        const char *bad = json_string_value(json_object_get(daemon, "error"));
        if (bad)
            fprintf(stderr, "outpost check: cache integrity (checked by the running daemon): %s\n", bad);
        else if (json_object_get(daemon, "ok"))
            printf("storage: ok (%s, %s, checked by the running daemon)\n", st.plugin->desc->name, a->data_dir);
        else
            fprintf(stderr, "outpost check: the running daemon did not check the cache (unexpected reply)\n");
        rc = bad || !json_object_get(daemon, "ok");
        outpost_app_close_storage(&st);
        goto out;
    }
    outpost_status s = { OUTPOST_BAD_DATA, 0, NULL };
    if (repair && (s = st.m->integrity_check(st.s)).code == OUTPOST_OK)
        /* the check reads every cached body too: a sound cache is read once */
        printf("repair:  nothing to repair\n");
    else if (repair) {
        /* content that does not read back is dropped (and fetched again by the next sync)
         * before the check, so the check then speaks of what is left */
        struct outpost_repair_result r;
        outpost_status rs = outpost_repair_content(st.m, st.s, stdout, &r);
        printf("repair:  %llu cached items read back, %llu damaged: %llu dropped (the next sync fetches them "
               "again), %llu kept (only in this cache, or a local edit waits)\n",
               (unsigned long long)r.read, (unsigned long long)r.damaged, (unsigned long long)r.dropped,
               (unsigned long long)r.kept);
        if (rs.code != OUTPOST_OK) {
            fprintf(stderr, "outpost check: repair stopped: %s\n", rs.message ? rs.message : outpost_status_class_name(rs.code));
            outpost_app_close_storage(&st);
            goto out;
        }
    }
    if (!repair || s.code != OUTPOST_OK)
        s = st.m->integrity_check(st.s);
    if (s.code != OUTPOST_OK) {
        fprintf(stderr, "outpost check: cache integrity: %s\n", s.message ? s.message : outpost_status_class_name(s.code));
    } else {
        printf("storage: ok (%s, %s)\n", st.plugin->desc->name, a->data_dir);
        rc = 0;
    }
    outpost_app_close_storage(&st);
out:
    json_decref(daemon);
    for (size_t i = 0; i < nfe; i++)
        outpost_loader_unload(fe[i]);
    outpost_loader_unload(tp);
    return rc;
}

/* ---- init ---- */

static char *prompt(const char *question, const char *def)
{
    char buf[1024];
    fprintf(stderr, "%s%s%s%s: ", question, def ? " [" : "", def ? def : "", def ? "]" : "");
    if (!fgets(buf, sizeof buf, stdin))
        return def ? strdup(def) : NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    return strdup(*buf ? buf : def ? def : "");
}

static int write_config(const char *path, const char *transport, const char *url, const char *user,
                        const char *pwfile, const char *storage, const char *data_dir, const char *ca_file,
                        char *err, size_t errlen)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, op_path_sep()) : NULL;
    if (slash) {
        *slash = '\0';
        if (op_mkdir_p(dir, 0700, err, errlen) != 0) {
            free(dir);
            return -1;
        }
    }
    free(dir);
    FILE *f = op_fopen_private(path);
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    fprintf(f, "# Outpost configuration, written by `outpost init`. See outpost.ini(5).\n\n");
    fprintf(f, "[core]\n");
    if (data_dir)
        fprintf(f, "data_dir = %s\n", data_dir);
    fprintf(f, "log_level = info\n\n[storage]\nplugin = %s\n\n", storage);
    fprintf(f, "[account]\ntransport = %s\nurl = %s\nuser = %s\n", transport, url, user);
    if (pwfile && *pwfile)
        fprintf(f, "password_file = %s\n", pwfile);
    if (ca_file && *ca_file)
        fprintf(f, "ca_file = %s\n", ca_file);
    if (pwfile && *pwfile)
        fprintf(f, "\n[imap]\n# IMAP clients on this machine log in with the account's user and password.\n"
                   "user = %s\npassword_file = %s\n", user, pwfile);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "cannot write %s (disk full?)", path);
        return -1;
    }
    return 0;
}

/* Replaces a relative *path (of an existing file or directory) by its absolute
 * form, kept in *owned; ~/ paths and absolute ones stay as they are. */
static int absolute_path(const char *flag, const char **path, char **owned)
{
    if (**path == '~' || op_path_is_absolute(*path))
        return 0;
    char *abs = op_realpath(*path);
    if (!abs) {
        fprintf(stderr, "outpost init: %s: cannot resolve %s\n", flag, *path);
        return -1;
    }
    *owned = abs;
    *path = abs;
    return 0;
}

static int cmd_init(struct outpost_app *a, int argc, char **argv)
{
    const char *transport = NULL, *url = NULL, *user = NULL, *pwfile = NULL, *storage = NULL, *data_dir = NULL,
               *ca_file = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **slot = !strcmp(o, "--transport") ? &transport : !strcmp(o, "--url") ? &url
                          : !strcmp(o, "--user") ? &user : !strcmp(o, "--password-file") ? &pwfile
                          : !strcmp(o, "--storage") ? &storage : !strcmp(o, "--data-dir") ? &data_dir
                          : !strcmp(o, "--ca-file") ? &ca_file : NULL;
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
        } else if (!strcmp(o, "--force")) {
            force = 1;
        } else {
            fprintf(stderr, "outpost init: %s %s\n", slot ? "missing value for" : "unknown option", o);
            return EXIT_USAGE;
        }
    }
    if (op_is_file(a->config_path) && !force) {
        fprintf(stderr, "outpost init: %s already exists (use --force to overwrite)\n", a->config_path);
        return 1;
    }
    char *owned[8] = { NULL }; /* prompted answers, then absolute paths */
    int interactive = op_isatty_stdin() && op_isatty_stderr();
    if (interactive) {
        if (!transport)
            transport = owned[0] = prompt("Transport (kerio, ews)", "kerio");
        if (!url)
            url = owned[1] = prompt("Server URL", NULL);
        if (!user)
            user = owned[2] = prompt("User name", NULL);
        if (!pwfile)
            pwfile = owned[3] = prompt("Password file (mode 600)", NULL);
        if (!storage)
            storage = owned[4] = prompt("Storage engine (sqlite, firebird)", "sqlite");
    }
    if (!transport)
        transport = "kerio";
    if (!storage)
        storage = "sqlite";
    int rc = 1;
    char err[2048];
    if (!url || !*url || !user || !*user) {
        fprintf(stderr, "outpost init: %s%s%s required when not run on a terminal\n", !url || !*url ? "--url " : "",
                !user || !*user ? "--user " : "", "is");
        rc = EXIT_USAGE;
        goto out;
    }
    /* plugins that are not installed: nothing is written (a transport would only
     * show at the first sync) */
    static const struct {
        uint32_t kind;
        const char *flag;
    } needed[] = { { OUTPOST_KIND_STORAGE, "--storage" }, { OUTPOST_KIND_TRANSPORT, "--transport" } };
    for (size_t k = 0; k < sizeof needed / sizeof *needed; k++) {
        const char *name = needed[k].kind == OUTPOST_KIND_STORAGE ? storage : transport;
        outpost_loaded_plugin *p = NULL;
        if (outpost_loader_load(a->plugin_dirs, needed[k].kind, name, &p, err, sizeof err) != 0) {
            fprintf(stderr, "outpost init: %s %s: %s (outpost plugins lists what is installed)\n", needed[k].flag, name,
                    err);
            goto out;
        }
        outpost_loader_unload(p);
    }
    /* The daemon does not run where init ran (systemd starts it in $HOME):
     * relative paths are written as absolute ones; ~/ is kept (read as $HOME). */
    if (pwfile && *pwfile) {
        char *x = outpost_expand_home(pwfile);
        int bad = !x || op_check_private_file(x, err, sizeof err) != 0;
        if (bad)
            fprintf(stderr, "outpost init: --password-file: %s\n", x ? err : "out of memory");
        free(x);
        if (bad || absolute_path("--password-file", &pwfile, &owned[5]) != 0)
            goto out;
    }
    if (ca_file && *ca_file) {
        char *x = outpost_expand_home(ca_file);
        int bad = !x || !op_is_file(x);
        free(x);
        if (bad) {
            fprintf(stderr, "outpost init: --ca-file: cannot read %s\n", ca_file);
            goto out;
        }
        if (absolute_path("--ca-file", &ca_file, &owned[6]) != 0)
            goto out;
    }
    if (data_dir && *data_dir && *data_dir != '~' && !op_path_is_absolute(data_dir)) {
        if (op_mkdir_p(data_dir, 0700, err, sizeof err) != 0) {
            fprintf(stderr, "outpost init: --data-dir: %s\n", err);
            goto out;
        }
        if (absolute_path("--data-dir", &data_dir, &owned[7]) != 0)
            goto out;
    }
    if (write_config(a->config_path, transport, url, user, pwfile, storage, data_dir, ca_file, err, sizeof err) != 0) {
        fprintf(stderr, "outpost init: %s\n", err);
        goto out;
    }
    struct outpost_config *cfg = NULL;
    if (outpost_config_load(a->config_path, 0, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "outpost init: %s\n", err);
        goto out;
    }
    outpost_config_free(a->cfg);
    a->cfg = cfg;
    outpost_config_declare_core(a->cfg);
    if (outpost_app_resolve(a, err, sizeof err) != 0) {
        fprintf(stderr, "outpost init: %s\n", err);
        goto out;
    }
    struct outpost_open_storage st;
    if (outpost_app_open_storage(a, &st, err, sizeof err) != 0) {
        fprintf(stderr, "outpost init: wrote %s but cannot create the cache: %s\n", a->config_path, err);
        goto out;
    }
    outpost_app_close_storage(&st);
    printf("wrote %s\ncache in %s (%s)\n", a->config_path, a->data_dir, storage);
    printf("next: `outpost check`, `outpost sync --once` for the first sync, then run the daemon (`outpostd`, "
           "or `systemctl --user enable --now outpostd`)\n");
    rc = 0;
out:
    for (int i = 0; i < 8; i++)
        free(owned[i]);
    return rc;
}

/* ---- progress ---- */

struct progress_state {
    int tty;
    char folder[256];
    int64_t started_ms;
    uint64_t last_done;
    int64_t last_draw_ms;
};

static void on_progress(void *ctx, const struct outpost_progress *p)
{
    struct progress_state *ps = ctx;
    const char *name = p->folder ? p->folder : p->phase;
    int64_t now = op_monotonic_ms();
    if (strcmp(ps->folder, name)) {
        snprintf(ps->folder, sizeof ps->folder, "%s", name);
        ps->started_ms = now;
        ps->last_draw_ms = 0;
    }
    double secs = (double)(now - ps->started_ms) / 1000.0;
    double rate = secs > 0.05 ? (double)p->done / secs : 0;
    if (ps->tty) {
        if (!p->finished && now - ps->last_draw_ms < 100)
            return;
        ps->last_draw_ms = now;
        char bar[31];
        int fill = p->total ? (int)(30.0 * (double)(p->done > p->total ? p->total : p->done) / (double)p->total) : 0;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        char eta[32] = "";
        if (p->total && rate > 0 && p->done < p->total)
            snprintf(eta, sizeof eta, " ETA %.0fs", (double)(p->total - p->done) / rate);
        fprintf(stderr, "\r\033[K%-9s ", p->phase);
        outpost_put_column(stderr, name, 28, 1);
        fprintf(stderr, " [%s] %llu/%llu %.0f/s%s", bar, (unsigned long long)p->done, (unsigned long long)p->total,
                rate, eta);
        if (p->finished)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (p->finished) {
        fprintf(stderr, "%s %s: %llu items in %.1f s (%.0f/s)\n", p->phase, name, (unsigned long long)p->done, secs,
                rate);
    }
}

/* ---- sync, run ---- */

static int cmd_sync(struct outpost_app *a, int argc, char **argv)
{
    int once = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--once"))
            once = 1;
        else {
            fprintf(stderr, "outpost sync: unknown option %s\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    char err[2048];
    json_t *r = outpost_control_request(a, "sync", err, sizeof err);
    if (r) { /* a daemon is running: it syncs */
        const char *res = json_string_value(json_object_get(r, "result"));
        outpost_report_print_status(r, stdout);
        int ok = res && !strcmp(res, "ok");
        json_decref(r);
        return ok ? 0 : 1;
    }
    struct progress_state ps = { op_isatty_stderr(), "", 0, 0, 0 };
    struct outpost_daemon_opts o = { 0, once, on_progress, &ps, 1 };
    int rc = outpost_daemon_run(a, &o);
    return rc == OUTPOST_EXIT_CONFIG ? 1 : rc; /* 78 is for outpostd's service manager (outpost(1)) */
}

static int cmd_run(struct outpost_app *a, int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "outpost run: takes no arguments\n");
        return EXIT_USAGE;
    }
    struct outpost_daemon_opts o = { 1, 0, NULL, NULL, 0 };
    return outpost_daemon_run(a, &o);
}

/* Runs `request` on the daemon if one runs, else on the cache directly. */
static json_t *report(struct outpost_app *a, const char *request, char *err, size_t errlen)
{
    json_t *r = outpost_control_request(a, request, err, errlen);
    if (r)
        return r;
    struct outpost_session s;
    int o = outpost_session_open(&s, a, 0, err, errlen);
    if (o != 0)
        return NULL;
    if (!strcmp(request, "status")) {
        r = outpost_report_status(s.store, NULL, a->cfg);
    } else if (!strcmp(request, "audit")) {
        r = outpost_report_audit(s.store);
    } else {
        r = json_object();
        json_object_set_new(r, "removed", json_integer(outpost_report_prune(s.store, atoll(request + 6), op_now_ms())));
    }
    outpost_session_close(&s);
    return r;
}

static int cmd_status_audit(struct outpost_app *a, int argc, char **argv)
{
    int json = 0, audit = !strcmp(argv[0], "audit");
    const char *prune = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (audit && !strcmp(argv[i], "--prune") && i + 1 < argc)
            prune = argv[++i];
        else if (audit && !strcmp(argv[i], "--prune")) {
            fprintf(stderr, "outpost audit: --prune needs a number of days\n");
            return EXIT_USAGE;
        } else {
            fprintf(stderr, "outpost %s: unknown option %s\n", argv[0], argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!op_is_file(a->config_path)) {
        fprintf(stderr, "outpost: no config at %s (create one with: outpost init)\n", a->config_path);
        return 1;
    }
    char err[2048], req[64];
    if (prune) {
        char *end;
        long days = strtol(prune, &end, 10);
        if (*end || days < 0) {
            fprintf(stderr, "outpost audit: --prune expects a number of days, not '%s'\n", prune);
            return EXIT_USAGE;
        }
        snprintf(req, sizeof req, "prune %ld", days);
    } else {
        snprintf(req, sizeof req, "%s", audit ? "audit" : "status");
    }
    json_t *r = report(a, req, err, sizeof err);
    if (!r) {
        fprintf(stderr, "outpost %s: %s\n", argv[0], err);
        return 1;
    }
    if (json) {
        char *s = json_dumps(r, JSON_INDENT(2));
        puts(s ? s : "{}");
        free(s);
    } else if (prune) {
        printf("pruned %lld confirmed entries older than %s days\n",
               (long long)json_integer_value(json_object_get(r, "removed")), prune);
    } else if (audit) {
        outpost_report_print_audit(r, stdout);
    } else {
        outpost_report_print_status(r, stdout);
    }
    json_decref(r);
    return 0;
}

/* ---- policy ---- */

/* `outpost policy` lists every folder's policy; `outpost policy FOLDER MODE
 * [AGE]` writes it to [policy] and has a running daemon reload. */
static int cmd_policy(struct outpost_app *a, int argc, char **argv)
{
    char err[2048];
    if ((argc == 2 && strcmp(argv[1], "--json")) || (argc > 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: outpost policy [--json] | outpost policy FOLDER full|headers [AGE] | "
                        "outpost policy FOLDER default\n");
        return EXIT_USAGE;
    }
    if (!op_is_file(a->config_path)) {
        fprintf(stderr, "outpost: no config at %s (create one with: outpost init)\n", a->config_path);
        return 1;
    }
    if (argc <= 2) {
        json_t *r = report(a, "status", err, sizeof err);
        if (!r) {
            fprintf(stderr, "outpost policy: %s\n", err);
            return 1;
        }
        json_t *out = json_array(), *f;
        size_t i;
        json_array_foreach(json_object_get(r, "folders"), i, f) {
            const char *pol = json_string_value(json_object_get(f, "policy"));
            if (!pol)
                continue; /* a daemon from before policies were reported */
            json_t *o = json_object();
            json_object_set(o, "path", json_object_get(f, "path"));
            json_object_set(o, "kind", json_object_get(f, "kind"));
            json_object_set(o, "policy", json_object_get(f, "policy"));
            json_object_set(o, "source", json_object_get(f, "policy_source"));
            json_array_append_new(out, o);
        }
        json_decref(r);
        if (argc == 2) {
            char *js = json_dumps(out, JSON_INDENT(2));
            puts(js ? js : "[]");
            free(js);
        } else {
            printf("%-40s %-9s %-18s %s\n", "FOLDER", "KIND", "POLICY", "FROM");
            json_array_foreach(out, i, f) {
                outpost_put_column(stdout, json_string_value(json_object_get(f, "path")), 40, 0);
                printf(" %-9s %-18s %s\n", json_string_value(json_object_get(f, "kind")),
                       json_string_value(json_object_get(f, "policy")), json_string_value(json_object_get(f, "source")));
            }
        }
        json_decref(out);
        return 0;
    }
    if (argc > 4) {
        fprintf(stderr, "outpost policy: too many arguments (quote a folder name with spaces)\n");
        return EXIT_USAGE;
    }
    const char *folder = argv[1];
    char value[256];
    if (argc == 4)
        snprintf(value, sizeof value, "%s, %s", argv[2], argv[3]);
    else
        snprintf(value, sizeof value, "%s", argv[2]);
    int reset = !strcmp(value, "default"), headers;
    int64_t age;
    if (!reset && outpost_policy_parse(value, &headers, &age) == 0)
        outpost_policy_format(headers, age, value, sizeof value);
    if (outpost_policy_write(a->config_path, folder, reset ? NULL : value, err, sizeof err) != 0) {
        fprintf(stderr, "outpost policy: %s\n", err);
        return 1;
    }
    if (reset)
        printf("%s: back to the default policy (%s)\n", folder, a->config_path);
    else
        printf("%s: %s (written to [policy] in %s)\n", folder, value, a->config_path);
    json_t *r = outpost_control_request(a, "reload", err, sizeof err);
    if (r) {
        printf("the running daemon reloads its configuration\n");
        json_decref(r);
    }
    return 0;
}

/* ---- reload ---- */

static int cmd_reload(struct outpost_app *a, int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "outpost reload: takes no arguments\n");
        return EXIT_USAGE;
    }
    char err[2048];
    /* the values this program knows are checked here, where the user sees the error;
     * the daemon checks every key again and keeps its configuration if one is bad */
    if (outpost_config_validate(a->cfg, NULL, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "outpost reload: %s (not sent to the daemon)\n", err);
        return 1;
    }
    json_t *r = outpost_control_request(a, "reload", err, sizeof err);
    if (!r) {
        fprintf(stderr, "outpost reload: no daemon is running on the cache in %s (%s)\n", a->data_dir, err);
        return 1;
    }
    json_decref(r);
    printf("the running daemon re-reads %s (its log says what it took)\n", a->config_path);
    return 0;
}

/* ---- not yet available ---- */

static int cmd_unavailable(const char *name, const char *what)
{
    fprintf(stderr, "outpost %s: not available in this build: %s\n", name, what);
    return EXIT_USAGE;
}

/* `outpost demo` runs the source tree's demo when started from a build tree
 * (the simulator is test code and is not installed). */
static int cmd_demo(void)
{
#if defined(OUTPOST_SOURCE_DIR) && defined(OUTPOST_BUILD_DIR)
    char *self = op_self_exe();
    int in_tree = self && !strncmp(self, OUTPOST_BUILD_DIR "/", strlen(OUTPOST_BUILD_DIR) + 1);
    free(self);
    if (in_tree && op_is_file(OUTPOST_SOURCE_DIR "/scripts/demo.sh")) {
        fflush(stdout);
        int rc = system("'" OUTPOST_SOURCE_DIR "/scripts/demo.sh' '" OUTPOST_BUILD_DIR "'");
        return rc == 0 ? 0 : 1;
    }
#endif
    return cmd_unavailable("demo", "the demo needs the simulator from a source tree: run `make demo` there");
}

int main(int argc, char **argv)
{
    op_tune_allocator();
    const char *config = NULL;
    const char *prog = strrchr(argv[0], op_path_sep());
    prog = prog ? prog + 1 : argv[0];
    int daemon_name = !strcmp(prog, "outpostd");
    outpost_log_setup(daemon_name ? "outpostd" : "outpost", OUTPOST_LOG_INFO);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config = argv[i] + 9;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config")) {
            fprintf(stderr, "outpost: --config needs a FILE\n");
            return EXIT_USAGE;
        } else if (!strcmp(argv[i], "--version")) {
            printf("outpost %s (ABI %d.%d)\n", OUTPOST_VERSION, OUTPOST_ABI_MAJOR, OUTPOST_ABI_MINOR);
            return 0;
        } else {
            fprintf(stderr, "outpost: unknown option %s\n%s", argv[i], usage_text);
            return EXIT_USAGE;
        }
    }
    const char *cmd = i < argc ? argv[i] : daemon_name ? "run" : NULL;
    if (!cmd) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    int sub_argc = i < argc ? argc - i : 1;
    char **sub_argv = i < argc ? argv + i : (char *[]){ (char *)"run", NULL };

    if (!help_for(cmd)) {
        fprintf(stderr, "outpost: unknown command '%s'\n%s", cmd, usage_text);
        return EXIT_USAGE;
    }

    for (int k = 1; k < sub_argc; k++) {
        if (!strcmp(sub_argv[k], "--help") || !strcmp(sub_argv[k], "-h")) {
            fputs(help_for(cmd), stdout);
            return 0;
        }
    }

    if (!strcmp(cmd, "demo"))
        return cmd_demo();

    struct outpost_app app;
    char err[2048];
    int missing_ok = !strcmp(cmd, "plugins") || !strcmp(cmd, "init");
    if (outpost_app_load(&app, config, missing_ok, err, sizeof err) != 0) {
        fprintf(stderr, "outpost: %s\n", err);
        outpost_app_free(&app);
        /* the daemon does not start: no use restarting it until the config is fixed */
        return !strcmp(cmd, "run") ? OUTPOST_EXIT_CONFIG : 1;
    }
    int rc;
    if (!strcmp(cmd, "plugins"))
        rc = cmd_plugins(&app, sub_argc, sub_argv);
    else if (!strcmp(cmd, "check"))
        rc = cmd_check(&app, sub_argc, sub_argv);
    else if (!strcmp(cmd, "init"))
        rc = cmd_init(&app, sub_argc, sub_argv);
    else if (!strcmp(cmd, "sync"))
        rc = cmd_sync(&app, sub_argc, sub_argv);
    else if (!strcmp(cmd, "run"))
        rc = cmd_run(&app, sub_argc, sub_argv);
    else if (!strcmp(cmd, "policy"))
        rc = cmd_policy(&app, sub_argc, sub_argv);
    else if (!strcmp(cmd, "reload"))
        rc = cmd_reload(&app, sub_argc, sub_argv);
    else
        rc = cmd_status_audit(&app, sub_argc, sub_argv);
    outpost_app_free(&app);
    return rc;
}
