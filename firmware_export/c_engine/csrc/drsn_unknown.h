/* drsn_unknown.h: the "unknown" score of one window from its int8 logits.
 *
 * The score is the top-1 minus the top-2 logit in the int8 output's units
 * (0 ... 255; the zero point cancels). A window whose score is below the
 * threshold calibrated by `drsn-edge convert` (DRSN_UNKNOWN_THRESHOLD in
 * drsn_model.h, or in drsn_config.h of a TFLite Micro export) is unlike the
 * training data: report "unknown" rather than the class. Integer arithmetic
 * only; bit-exact with drsn_edge.unknown.margin in Python. */
#ifndef DRSN_UNKNOWN_H
#define DRSN_UNKNOWN_H

#include <stdint.h>

/* top-1 minus top-2 of n >= 2 int8 logits */
int32_t drsn_unknown_score(const int8_t *logits, int32_t n);

/* 1 when the score is below the threshold (the window is "unknown"), else 0 */
#define DRSN_IS_UNKNOWN(score, threshold) ((score) < (threshold))

#endif
