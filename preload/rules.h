/*
 * rules.h - the tagging rules of the preload: grammar, parser, matcher.
 *
 * A rule is whitespace-separated key=value words; rules are separated by
 * ';' or newlines, and '#' starts a comment that runs to the end of the
 * line.  Matchers (all given must match): caller=GLOB, object=GLOB,
 * size=N|MIN-MAX|MIN-|-MAX, every=N, sample=BYTES (byte sampling,
 * sample.h: one sampling process a thread, so every rule that has it
 * gives the same BYTES).  Options: ttl=DURATION (required),
 * action=report|free|reclaim|abort, label=NAME, depth=N.
 *
 * The parser is a pure function: text in, rules or one error (with its
 * line and column) out.  It allocates with malloc.
 */
#ifndef ML_RULES_H
#define ML_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ML_RULES_MAX       32   /* a rule mask fits 32 bits */
#define ML_RULE_DEPTH_MAX  64
#define ML_RULE_DEPTH_DEF  16
#define ML_RULE_LABEL_MAX  31

enum ml_action {
	ML_ACT_REPORT = 0,   /* report, change nothing */
	ML_ACT_FREE,         /* report and free the block */
	ML_ACT_RECLAIM,      /* report, give the pages back, keep the addresses */
	ML_ACT_ABORT,        /* report and abort */
};

struct ml_rule {
	char          *caller;          /* glob, or NULL */
	char          *object;          /* glob, or NULL */
	uint64_t       size_min;        /* 0 */
	uint64_t       size_max;        /* UINT64_MAX */
	uint32_t       every;           /* 1: every allocation */
	uint64_t       sample;          /* byte sampling's mean, 0: none */
	uint32_t       depth;           /* frames searched by caller= */
	uint64_t       ttl_ms;          /* 0: no timeout */
	enum ml_action action;
	char           label[ML_RULE_LABEL_MAX + 1];
};

struct ml_rules {
	struct ml_rule *v;
	int             n;
};

struct ml_rules_error {
	int  line;            /* 1-based */
	int  column;          /* 1-based, in bytes */
	char msg[200];
	bool nomem;           /* out of memory, not a mistake in the text */
};

/* Parse text (NULL or empty: no rules).  Returns 0, or -1 with *err set and
 * *out empty.  On success *out owns its memory: ml_rules_free(). */
int  ml_rules_parse(const char *text, struct ml_rules *out,
         struct ml_rules_error *err);
void ml_rules_free(struct ml_rules *r);

/* The rules as text that ml_rules_parse() reads back the same, one rule a
 * line; returns the length it needed (like snprintf). */
size_t ml_rules_format(const struct ml_rules *r, char *buf, size_t len);

const char *ml_action_name(enum ml_action a);

/* A size as size= takes one (a number of bytes, or with k, M or G):
 * 0, or -1 if s is not one. */
int ml_rules_size(const char *s, uint64_t *out);

/* Whether a requested size is in the rule's range. */
static inline bool
ml_rule_size_ok(const struct ml_rule *r, uint64_t size)
{
	return size >= r->size_min && size <= r->size_max;
}

/* Whether the caller= and object= matchers accept a call site: `object`
 * is the shared object of the code that called the allocator, functions[]
 * the names of the first frames (NULL where unknown). */
bool ml_rule_object_ok(const struct ml_rule *r, const char *object);
bool ml_rule_caller_ok(const struct ml_rule *r, const char *const *functions,
         int nframes);
bool ml_rule_site_ok(const struct ml_rule *r, const char *object,
         const char *const *functions, int nframes);

#endif /* ML_RULES_H */
