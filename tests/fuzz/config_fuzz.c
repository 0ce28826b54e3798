/* tests/fuzz/config_fuzz.c — libFuzzer target for outpost.ini parsing and
 * validation (a user-edited file is outside input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct outpost_config *c = NULL;
    char err[1024];
    if (outpost_config_parse_text(text, "fuzz.ini", &c, err, sizeof err) == 0) {
        outpost_config_declare_core(c);
        static const char *const req[] = { "core", "storage", "account", NULL };
        outpost_config_validate(c, req, NULL, NULL, err, sizeof err);
        (void)outpost_config_get(c, "account", "url");
        outpost_config_free(c);
    }
    free(text);
    return 0;
}
