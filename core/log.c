/* core/log.c — line-oriented logging to stderr, journald-aware (see log.h). */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

/* Process-wide logging settings: written once at start-up, read afterwards. */
static struct {
    int level;
    char program[32];
} log_cfg = { OUTPOST_LOG_INFO, "outpost" };

static const char *level_name(int level)
{
    switch (level) {
    case OUTPOST_LOG_ERROR: return "error";
    case OUTPOST_LOG_WARNING: return "warning";
    case OUTPOST_LOG_NOTICE: return "notice";
    case OUTPOST_LOG_INFO: return "info";
    default: return "debug";
    }
}

void outpost_log_setup(const char *program, int level)
{
    if (program)
        snprintf(log_cfg.program, sizeof log_cfg.program, "%s", program);
    if (level >= OUTPOST_LOG_ERROR && level <= OUTPOST_LOG_DEBUG)
        log_cfg.level = level;
}

int outpost_log_level_parse(const char *name)
{
    static const char *const names[] = { "error", "warning", "notice", "info", "debug" };
    for (int i = 0; i < 5; i++)
        if (name && !strcmp(name, names[i]))
            return OUTPOST_LOG_ERROR + i;
    return -1;
}

int outpost_log_enabled(int level) { return level <= log_cfg.level; }

void outpost_vlog(int level, const char *component, const char *fmt, va_list ap)
{
    if (!outpost_log_enabled(level))
        return;
    char line[2048];
    size_t n = 0;
    const char *js = op_getenv("JOURNAL_STREAM");
    if (js && *js) {
        n = (size_t)snprintf(line, sizeof line, "<%d>%s%s", level, component ? component : "",
                             component ? ": " : "");
    } else {
        char ts[32];
        op_format_utc(op_now_ms(), "%Y-%m-%dT%H:%M:%SZ", ts, sizeof ts);
        n = (size_t)snprintf(line, sizeof line, "%s %s[%ld] %s %s%s", ts, log_cfg.program, op_getpid(),
                             level_name(level), component ? component : "", component ? ": " : "");
    }
    if (n < sizeof line)
        n += (size_t)vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (n >= sizeof line - 1)
        n = sizeof line - 2;
    /* One event, one line: fold embedded newlines. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
    fflush(stderr);
}

void outpost_log(int level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    outpost_vlog(level, component, fmt, ap);
    va_end(ap);
}
