/* Word tables for generated accounts: people, words, subjects, places. All UTF-8, with enough
 * non-ASCII text (accents, Cyrillic, Greek, CJK, emoji) to exercise every encoder downstream. */
#ifndef OUTPOST_SIM_KERIO_GEN_WORDS_H
#define OUTPOST_SIM_KERIO_GEN_WORDS_H

#include <stddef.h>

struct gen_person {
	const char *first, *last, *address;
	const char *company, *phone, *city;
};

extern const struct gen_person gen_people[];
extern const size_t gen_npeople;
extern const char *const gen_words[];
extern const size_t gen_nwords;
extern const char *const gen_topics[];
extern const size_t gen_ntopics;
extern const char *const gen_subject_forms[];   /* printf formats with one %s (topic) */
extern const size_t gen_nsubject_forms;
extern const char *const gen_event_titles[];
extern const size_t gen_nevent_titles;
extern const char *const gen_places[];
extern const size_t gen_nplaces;
extern const char *const gen_task_titles[];
extern const size_t gen_ntask_titles;

struct gen_attachment_kind { const char *name, *ctype, *magic; };
extern const struct gen_attachment_kind gen_attachment_kinds[];
extern const size_t gen_nattachment_kinds;

#endif
