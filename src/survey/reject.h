/* reject.h (private to src/survey): filling a reject record. */
#ifndef LCFM_SURVEY_REJECT_H
#define LCFM_SURVEY_REJECT_H

#include "lcfm/error.h"
#include "lcfm/store.h"

/* Fills *r with key, reason and a printf-style message (both truncated to fit). */
void lcfm_fill_reject(lcfm_reject *r, const char *key, int reason, const char *fmt, ...)
    LCFM_PRINTF(4, 5);

#endif
