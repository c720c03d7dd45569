/* drsn_fixedpoint.h: the fixed-point arithmetic the int8 kernels share (gemmlowp / TFLite's common.h).
 *
 * static inline, so each kernel's per-element calls inline in its own
 * translation unit. The rounding is TFLite's exactly: the engine's outputs
 * equal LiteRT's reference kernels bit for bit only because of it.
 */
#ifndef DRSN_FIXEDPOINT_H
#define DRSN_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t drsn_clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* SaturatingRoundingDoublingHighMul. The reference adds a nudge of 2^30 (or 1 - 2^30 when the product
 * is negative) and divides by 2^31 rounding toward zero; for a negative n, trunc(n / 2^31) equals
 * floor((n + 2^31 - 1) / 2^31), so both cases are floor((ab + 2^30) / 2^31): one multiply-accumulate
 * and an arithmetic shift, the same integer. */
static inline int32_t drsn_srdhm(int32_t a, int32_t b)
{
    const int64_t ab = (int64_t)a * (int64_t)b;
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    return (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
}

/* RoundingDivideByPOT */
static inline int32_t drsn_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((UINT32_C(1) << exponent) - 1); /* exponent 0..31 */
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier (gemmlowp's double rounding) */
static inline int32_t drsn_mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    /* x * (1 << left) wraps like TFLite's (it is only large for multipliers far above 1) */
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return drsn_rdbpot(drsn_srdhm(shifted, multiplier), right);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp (the ADD/SUB path) */
static inline int32_t drsn_mbqm_smaller_than_one(int32_t x, int32_t multiplier, int shift)
{
    return drsn_rdbpot(drsn_srdhm(x, multiplier), -shift);
}

#endif
