/*
 * api.h - what the rest of libmemlease (and the tests) may ask of the
 * public API layer.
 */
#ifndef ML_API_H
#define ML_API_H

struct ml_core;

/* The process-wide core, initialised; NULL if initialisation failed. */
struct ml_core *ml_api_core(void);

#endif /* ML_API_H */
