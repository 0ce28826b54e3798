/* tests/imap/imap_harness.c — a small daemon for the IMAP tests: loads the
 * config, opens a cache (the in-memory test store until core/store.c lands),
 * seeds folders and the MIME fixtures, starts outpost-frontend-imap through
 * the plugin loader with a host for section [imap], and serves until
 * SIGTERM/SIGINT. SIGUSR1 toggles the store's online state. The journal goes
 * to <data_dir>/journal.log, one entry a line.
 *
 * usage: imap_harness CONFIG FIXTURE_DIR
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <outpost/frontend.h>

#include "app.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "memstore.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void seed(struct memstore *m, const char *dir)
{
    int64_t inbox = memstore_add_folder(m, 0, "Inbox", OUTPOST_ITEM_MAIL, OUTPOST_USE_INBOX, OUTPOST_FOLDER_SUBSCRIBED);
    int64_t archive = memstore_add_folder(m, 0, "Archive", OUTPOST_ITEM_MAIL, OUTPOST_USE_ARCHIVE,
                                          OUTPOST_FOLDER_SUBSCRIBED);
    memstore_add_folder(m, archive, "2023", OUTPOST_ITEM_MAIL, 0, 0);
    memstore_add_folder(m, 0, "Sent Items", OUTPOST_ITEM_MAIL, OUTPOST_USE_SENT, OUTPOST_FOLDER_SUBSCRIBED);
    memstore_add_folder(m, 0, "Calendar", OUTPOST_ITEM_EVENT, 0, OUTPOST_FOLDER_SUBSCRIBED);
    memstore_add_folder(m, 0, "Contacts", OUTPOST_ITEM_CONTACT, 0, OUTPOST_FOLDER_SUBSCRIBED);
    memstore_add_folder(m, 0, "Projekte \xc3\xa4\xc3\xb6\xc3\xbc", OUTPOST_ITEM_MAIL, 0, OUTPOST_FOLDER_SUBSCRIBED);
    DIR *d = opendir(dir);
    if (!d)
        return;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (strstr(e->d_name, ".eml"))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    int64_t t0 = 1700000000000LL;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len;
        char *mime = slurp(path, &len);
        if (mime) {
            int summary_only = strstr(names[i], "uncached") != NULL;
            int64_t folder = strstr(names[i], "archive") ? archive : inbox;
            uint32_t flags = strstr(names[i], "seen") ? OUTPOST_FLAG_SEEN : 0;
            memstore_add_message(m, folder, mime, len, flags, t0 + (int64_t)i * 86400000LL, summary_only);
        }
        free(mime);
        free(names[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CONFIG FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    char err[1024];
    struct outpost_app app = { 0 };
    if (outpost_app_load(&app, argv[1], 0, err, sizeof err) != 0) {
        fprintf(stderr, "imap_harness: %s\n", err);
        return 1;
    }
    outpost_loaded_plugin *p = NULL;
    if (outpost_loader_load(app.plugin_dirs, OUTPOST_KIND_FRONTEND, "imap", &p, err, sizeof err) != 0) {
        fprintf(stderr, "imap_harness: %s\n", err);
        return 1;
    }
    outpost_config_declare(app.cfg, "imap", p->desc->config_keys);
    if (outpost_config_validate(app.cfg, NULL, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "imap_harness: %s\n", err);
        return 1;
    }
    mkdir(app.data_dir, 0700);
    char jpath[4096];
    snprintf(jpath, sizeof jpath, "%s/journal.log", app.data_dir);
    struct memstore *m = memstore_new(jpath);
    memstore_set_current(m);
    seed(m, argv[2]);

    struct outpost_host *h = outpost_core_host_new(app.cfg, "imap", "imap", app.data_dir);
    outpost_core_host_set_store(h, memstore_api());
    const struct outpost_frontend_methods *fm = p->methods;
    if (outpost_loader_module_init(p, h, err, sizeof err) != 0) {
        fprintf(stderr, "imap_harness: %s\n", err);
        return 1;
    }
    /* block the signals we wait for before any thread starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    struct outpost_frontend *fe = NULL;
    outpost_status st = fm->create(h, &fe);
    if (st.code != OUTPOST_OK) {
        fprintf(stderr, "imap_harness: create: %s\n", st.message);
        return 1;
    }
    st = fm->start(fe);
    if (st.code != OUTPOST_OK) {
        fprintf(stderr, "imap_harness: start: %s\n", st.message);
        return 1;
    }
    int online = 1;
    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig == SIGUSR1) {
            online = !online;
            memstore_set_online(m, online);
            fprintf(stderr, "imap_harness: %s\n", online ? "online" : "offline");
            continue;
        }
        if (sig == SIGPIPE)
            continue;
        break;
    }
    fm->stop(fe);
    fm->destroy(fe);
    outpost_loader_unload(p);
    outpost_core_host_free(h);
    memstore_free(m);
    outpost_app_free(&app);
    return 0;
}
