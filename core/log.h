/* core/log.h — one line per event on stderr.
 *
 * When stderr is connected to the systemd journal (JOURNAL_STREAM set) each
 * line starts with the sd-daemon priority prefix "<N>" and carries no time
 * stamp (the journal adds one); otherwise lines read
 * "2026-11-25T18:51:06Z outpostd[pid] info kerio: message". Thread-safe: a
 * line is written with one write call.
 */
#ifndef OUTPOST_CORE_LOG_H
#define OUTPOST_CORE_LOG_H

#include <stdarg.h>

#include <outpost/host.h>

/* Sets the threshold (OUTPOST_LOG_*) and the program name; call at start-up. */
void outpost_log_setup(const char *program, int level);
/* Parses "error|warning|notice|info|debug"; -1 if unknown. */
int outpost_log_level_parse(const char *name);
int outpost_log_enabled(int level);

void outpost_log(int level, const char *component, const char *fmt, ...) OUTPOST_PRINTF(3, 4);
void outpost_vlog(int level, const char *component, const char *fmt, va_list ap);

#endif
