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

/* floor((v2 m + 2^31) / 2^32) for an even v2 = 2v: floor((v m + 2^30) / 2^31), drsn_srdhm's integer whenever
 * |v| < 2^30; one SMMULR on the DSP. Kernels that keep their operands doubled (tables of 2v) call this. */
static inline int32_t drsn_high_doubled(int32_t v2, int32_t m)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t h;
    __asm__("smmulr %0, %1, %2" : "=r"(h) : "r"(v2), "r"(m));
    return h;
#else
    return (int32_t)(((int64_t)v2 * m + ((int64_t)1 << 31)) >> 32);
#endif
}

static inline int32_t drsn_high(int32_t v, int32_t m) { return drsn_high_doubled(v * 2, m); }

/* drsn_rdbpot(drsn_srdhm(v, m), e) + z from v2 = 2v in three more instructions, with round = 2^(e-1) + z 2^e:
 * the floor of (h + 2^(e-1) - [h < 0] + z 2^e) / 2^e is RoundingDivideByPOT's halves-away-from-zero plus z.
 * Valid for e >= 1, |v| < 2^30 and |v| + |round| < 2^31 - 1: the generator proves these per op
 * (fuse.py: fast_requant) before it lets a kernel call this. */
static inline int32_t drsn_requant_doubled(int32_t v2, int32_t m, int32_t e, int32_t round)
{
    const int32_t h = drsn_high_doubled(v2, m);
    return (h + round + (h >> 31)) >> e;
}

static inline int32_t drsn_requant(int32_t v, int32_t m, int32_t e, int32_t round)
{
    return drsn_requant_doubled(v * 2, m, e, round);
}

/* clamp to int8: one SSAT on the DSP */
static inline int32_t drsn_sat8(int32_t v)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t s;
    __asm__("ssat %0, #8, %1" : "=r"(s) : "r"(v));
    return s;
#else
    return drsn_clamp(v, INT8_MIN, INT8_MAX);
#endif
}

/* clamp to [lo, 127] for lo >= -128 */
static inline int32_t drsn_clamp_hi127(int32_t v, int32_t lo)
{
    const int32_t s = drsn_sat8(v);
    return s < lo ? lo : s;
}

#endif
