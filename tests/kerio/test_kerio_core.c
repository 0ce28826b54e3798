/* test_kerio_core.c — the Kerio plugin as the core runs it: found and validated by the core's
 * loader in the build tree's plugin directory, configured from an INI text through the core's
 * config (the plugin's declared keys validated: url and user required), and given the core's
 * real host table, whose secret() reads password_file. Then one open, hierarchy and Inbox sync
 * against the simulator, close.
 *
 * usage: test_kerio_core PLUGIN-DIR SIM-BINARY GEN-CERTS.sh WORKDIR */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <outpost/transport.h>

#include "config.h"
#include "host.h"
#include "loader.h"
#include "sim_proc.h"
#include "recording_sink.h"

static const char *plugin_dir, *sim_bin, *gen_certs, *workdir;
static char certdir[1024];

static void note(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "config: %s\n", msg);
}


static void test_core_runs_kerio(void **state)
{
    (void)state;
    char err[512], ca[1200], crt[1200], key[1200], pwfile[1200];
    snprintf(ca, sizeof ca, "%s/ca.pem", certdir);
    snprintf(crt, sizeof crt, "%s/server.pem", certdir);
    snprintf(key, sizeof key, "%s/server.key", certdir);
    snprintf(pwfile, sizeof pwfile, "%s/password", workdir);
    int fd = open(pwfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "secret\n", 7), 7);
    close(fd);
    chmod(pwfile, 0600);

    outpost_loaded_plugin *p = NULL;
    int rc = outpost_loader_load(plugin_dir, OUTPOST_KIND_TRANSPORT, "kerio", &p, err, sizeof err);
    if (rc)
        fprintf(stderr, "loader: %s\n", err);
    assert_int_equal(rc, 0);
    const struct outpost_transport_methods *tm = p->methods;

    struct sim_proc sim;
    const char *args[] = { "--cert", crt, "--key", key, "--messages", "12", "--events", "3", "--contacts", "3",
                           "--tasks", "2", "--notes", "2", "--quiet", NULL };
    assert_int_equal(sim_start(&sim, sim_bin, args, ca), 0);

    /* A config without url is refused by the plugin's declaration. */
    struct outpost_config *bad;
    assert_int_equal(outpost_config_parse_text("[account]\ntransport = kerio\nuser = jdoe\n", "bad.ini", &bad, err,
                                               sizeof err), 0);
    outpost_config_declare_core(bad);
    outpost_config_declare(bad, "account", p->desc->config_keys);
    const char *req[] = { "account", NULL };
    assert_int_equal(outpost_config_validate(bad, req, note, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "url"));
    outpost_config_free(bad);

    char text[4096];
    snprintf(text, sizeof text,
             "[account]\ntransport = kerio\nurl = %s\nuser = jdoe\npassword_file = %s\nca_file = %s\n"
             "page_size = 5\ndelete = trash\n",
             sim.url, pwfile, ca);
    struct outpost_config *cfg;
    assert_int_equal(outpost_config_parse_text(text, "outpost.ini", &cfg, err, sizeof err), 0);
    outpost_config_declare_core(cfg);
    outpost_config_declare(cfg, "account", p->desc->config_keys);
    rc = outpost_config_validate(cfg, req, note, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "validate: %s\n", err);
    assert_int_equal(rc, 0);
    struct outpost_host *host = outpost_core_host_new(cfg, "account", "kerio", workdir);
    assert_non_null(host);
    assert_int_equal(outpost_loader_module_init(p, host, err, sizeof err), 0);

    struct outpost_transport *t = NULL;
    assert_int_equal(tm->create(host, &t).code, OUTPOST_OK);
    outpost_status st = tm->open(t);
    if (st.code != OUTPOST_OK)
        fprintf(stderr, "open: %s\n", st.message);
    assert_int_equal(st.code, OUTPOST_OK);
    struct rec h;
    rec_init(&h);
    assert_int_equal(tm->sync_hierarchy(t, NULL, 0, &h.sink).code, OUTPOST_OK);
    const char *inbox = NULL;
    size_t i;
    const json_t *e;
    json_array_foreach(h.events, i, e) if (json_integer_value(json_object_get(e, "special")) == OUTPOST_USE_INBOX)
        inbox = json_string_value(json_object_get(e, "id"));
    assert_non_null(inbox);
    outpost_folder of;
    memset(&of, 0, sizeof of);
    of.struct_size = sizeof of;
    of.kind = OUTPOST_ITEM_MAIL;
    of.remote_id = inbox;
    of.name = "Inbox";
    struct rec r;
    rec_init(&r);
    st = tm->sync_folder(t, &of, NULL, 0, 0, OUTPOST_SYNC_WANT_CONTENT, &r.sink);
    assert_int_equal(st.code, OUTPOST_OK);
    assert_true(rec_count(&r, "item", OUTPOST_CHANGE_ADD) > 0);
    assert_true(r.commits >= 2); /* page_size 5 from the config */
    tm->close(t);
    tm->destroy(t);
    rec_free(&r);
    rec_free(&h);
    sim_stop(&sim);
    outpost_core_host_free(host);
    outpost_config_free(cfg);
    outpost_loader_unload(p);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PLUGIN-DIR SIM-BINARY GEN-CERTS.sh WORKDIR\n", argv[0]);
        return 2;
    }
    plugin_dir = argv[1];
    sim_bin = argv[2];
    gen_certs = argv[3];
    workdir = argv[4];
    mkdir(workdir, 0700);
    snprintf(certdir, sizeof certdir, "%s/certs", workdir);
    if (sim_gen_certs(gen_certs, certdir) != 0)
        return 1;
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_core_runs_kerio) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
