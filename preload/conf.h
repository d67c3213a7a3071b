/*
 * conf.h - the preload's configuration beyond single values: the rules
 * of the environment and of a file, and what programs this one runs
 * inherit.
 */
#ifndef ML_CONF_H
#define ML_CONF_H

#include <stdbool.h>

#include "rules.h"

/* The rules of MEMLEASE_RULES, then those of MEMLEASE_CONFIG, in *out:
 * true, or false after an error said on stderr (nothing is to be
 * tagged). */
bool ml_conf_rules(struct ml_rules *out);

/* MEMLEASE_INHERIT=off: programs this one runs start without memlease
 * (libmemlease.so taken out of LD_PRELOAD). */
void ml_conf_uninherit(void);

#endif /* ML_CONF_H */
