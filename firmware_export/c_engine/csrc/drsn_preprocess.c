/* drsn_preprocess.c: a raw window -> the int8 network input (see drsn_preprocess.h and drsn_edge/int8_input.py,
 * which defines every step: canonical samples, int64 moments, integer square root, one multiplier per window). */
#include "drsn_preprocess.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define CANON_BITS 20 /* canonical samples: the largest magnitude in [2^19, 2^20] */
#define SIGMA_BITS 10 /* fractional bits of the standard deviation */

typedef struct {
    int32_t center;    /* round(mean) in canonical units */
    uint32_t gain;     /* int8 steps per canonical unit = gain / 2^shift */
    int32_t shift;
    uint64_t half;     /* 2^(shift - 1) for 1 <= shift <= 62 */
    int32_t zero_point;
} drsn_requant;

static int32_t bit_length(uint64_t v)
{
    int32_t n = 0;
    while (v != 0) {
        ++n;
        v >>= 1;
    }
    return n;
}

static uint64_t isqrt64(uint64_t v) /* floor(sqrt(v)) */
{
    uint64_t res = 0, bit = (uint64_t)1 << 62;
    while (bit > v) bit >>= 2;
    while (bit != 0) {
        if (v >= res + bit) {
            v -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

static int64_t floor_div(int64_t a, int64_t b) /* b > 0 */
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static uint64_t shift_round(uint32_t m, int32_t e) /* m * 2^e rounded half up, capped at 2^62 */
{
    if (e > 31) return (uint64_t)1 << 62;
    if (e >= 0) return (uint64_t)m << e;
    if (e < -32) return 0;
    return ((uint64_t)m + ((uint64_t)1 << (-e - 1))) >> -e;
}

/* The per-window requantisation from the moments of the canonical samples (sum s1, sum of squares sq);
 * top = floor(log2 of the largest raw magnitude) scales eps. */
static drsn_requant plan(const drsn_preprocessing *p, int64_t s1, int64_t sq, int32_t top)
{
    const int64_t n = p->window_length;
    const int64_t c = floor_div(2 * s1 + n, 2 * n), r = s1 - n * c;
    const int64_t v = sq - 2 * c * s1 + n * c * c - (r * r) / n; /* >= 0; r * r >= 0 so / floors */
    const uint64_t w = ((uint64_t)(v / n) << (2 * SIGMA_BITS)) + (((uint64_t)(v % n) << (2 * SIGMA_BITS)) / (uint64_t)n);
    const uint64_t denom = isqrt64(w) + shift_round((uint32_t)p->eps_m, p->eps_e + SIGMA_BITS + CANON_BITS - 1 - top);
    drsn_requant q;
    int32_t t, len;
    uint64_t dn;
    q.center = (int32_t)c;
    q.zero_point = p->input_zero_point;
    if (denom == 0) { /* a constant window: every sample is the center */
        q.gain = 0;
        q.shift = 1;
        q.half = 1;
        return q;
    }
    t = bit_length(denom) - 31;
    if (t < 0) t = 0;
    dn = denom >> t;
    len = bit_length(dn);
    q.gain = (uint32_t)(((uint64_t)(uint32_t)p->inv_scale_m << (len - 1)) / dn);
    q.shift = len - 1 + t - p->inv_scale_e - SIGMA_BITS;
    q.half = q.shift >= 1 && q.shift <= 62 ? (uint64_t)1 << (q.shift - 1) : 0;
    return q;
}

static int8_t clamp8(int32_t v)
{
    return (int8_t)(v < INT8_MIN ? INT8_MIN : (v > INT8_MAX ? INT8_MAX : v));
}

/* zero_point + round(d * gain / 2^shift), d = s - center, rounded half away from zero. For 32 <= shift <= 53
 * (every window whose std is more than a few canonical units per int8 step) the rounding constant and the
 * product fit 53 bits and the high word, shifted by shift - 32, is the result; other shifts take the long way. */
static inline int8_t requantize(const drsn_requant *q, int32_t s)
{
    const int32_t d = s - q->center;
    const uint32_t a = (uint32_t)(d < 0 ? -d : d);
    uint64_t mag;
    if (q->shift >= 32 && q->shift <= 53) {
        mag = (uint32_t)(((uint64_t)a * q->gain + q->half) >> 32) >> (q->shift - 32);
    } else if (q->shift <= 0) {
        mag = a != 0 ? 256 : 0;
    } else if (q->shift > 62) {
        mag = 0;
    } else {
        mag = ((uint64_t)a * q->gain + q->half) >> q->shift;
        if (mag > 256) mag = 256;
    }
    return clamp8(q->zero_point + (d < 0 ? -(int32_t)mag : (int32_t)mag));
}

/* float32 bits -> canonical sample; p = 131 + top, so the largest magnitude lands in [2^19, 2^20] */
static inline int32_t canonical(uint32_t bits, int32_t p)
{
    const uint32_t mag = bits & 0x7fffffffu, e = mag >> 23;
    const uint32_t m = (mag & 0x7fffffu) | (e != 0 ? 0x800000u : 0u);
    const int32_t shift = p - (e != 0 ? (int32_t)e : 1);
    uint32_t s;
    if (shift <= 0) s = m << -shift; /* only windows of subnormals: m < 2^20 >> -shift */
    else if (shift > 31) s = 0;
    else s = (m + (1u << (shift - 1))) >> shift;
    return (bits >> 31) != 0 ? -(int32_t)s : (int32_t)s;
}

static uint32_t bits_of(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* DRSN_NORM_GLOBAL and DRSN_NORM_NONE: the float definition, (x - mean) / std in double, then drsn_quantize;
 * -1 when the sample is beyond float's range after it (numpy's float64 -> float32 cast gives inf from FLT_MAX
 * + half an ulp, 2^103, on, and Python and the Pi runner refuse such a window: a global std far below the
 * samples' size) */
static int float_sample(const drsn_preprocessing *p, double x, int8_t *out)
{
    double z = p->normalisation == DRSN_NORM_GLOBAL ? (x - p->mean) / p->std : x;
    if (!(fabs(z) < (double)FLT_MAX + 0x1p103)) return -1;
    if (z > FLT_MAX) z = FLT_MAX; /* below the half ulp the cast rounds to FLT_MAX; (float)z would be UB */
    if (z < -FLT_MAX) z = -FLT_MAX;
    *out = drsn_quantize((float)z, p->input_scale, p->input_zero_point);
    return 0;
}

static int global_ok(const drsn_preprocessing *p)
{
    return p->normalisation != DRSN_NORM_GLOBAL || (isfinite(p->mean) && isfinite(p->std) && p->std > 0.0);
}

int drsn_preprocess(const drsn_preprocessing *p, const float *window, int8_t *input)
{
    const int32_t n = p->window_length;
    uint32_t amax = 0;
    int32_t i, top, at;
    int64_t s1 = 0, sq = 0;
    drsn_requant q;
    for (i = 0; i < n; ++i) {
        const uint32_t mag = bits_of(window[i]) & 0x7fffffffu;
        if (mag >= 0x7f800000u) return -1; /* NaN or Inf */
        if (mag > amax) amax = mag;
    }
    if (p->normalisation != DRSN_NORM_WINDOW) {
        if (!global_ok(p)) return -1;
        for (i = 0; i < n; ++i) {
            if (float_sample(p, (double)window[i], &input[i]) != 0) return -1;
        }
        return 0;
    }
    top = (amax >> 23) != 0 ? (int32_t)(amax >> 23) - 127 : (amax != 0 ? bit_length(amax) - 150 : 0);
    at = 131 + top; /* 150 - (CANON_BITS - 1) + top */
    for (i = 0; i < n; ++i) {
        const int32_t s = canonical(bits_of(window[i]), at);
        s1 += s;
        sq += (int64_t)s * s;
    }
    q = plan(p, s1, sq, top);
    for (i = 0; i < n; ++i) input[i] = requantize(&q, canonical(bits_of(window[i]), at));
    return 0;
}

int drsn_preprocess_i16(const drsn_preprocessing *p, const int16_t *samples, int8_t *input)
{
    const int32_t n = p->window_length;
    int32_t i, amax = 0, top, mul;
    int64_t s1 = 0, sq = 0;
    drsn_requant q;
    if (p->normalisation != DRSN_NORM_WINDOW) {
        if (!global_ok(p)) return -1;
        for (i = 0; i < n; ++i) {
            if (float_sample(p, (double)samples[i], &input[i]) != 0) return -1;
        }
        return 0;
    }
    for (i = 0; i < n; ++i) {
        const int32_t a = samples[i] < 0 ? -(int32_t)samples[i] : samples[i];
        if (a > amax) amax = a;
    }
    top = amax != 0 ? bit_length((uint64_t)amax) - 1 : 0;
    mul = (int32_t)1 << (CANON_BITS - 1 - top); /* exact: what drsn_preprocess does to the same samples as float */
    for (i = 0; i < n; ++i) {
        const int32_t s = samples[i] * mul;
        s1 += s;
        sq += (int64_t)s * s;
    }
    q = plan(p, s1, sq, top);
    for (i = 0; i < n; ++i) input[i] = requantize(&q, samples[i] * mul);
    return 0;
}

int8_t drsn_quantize(float x, float scale, int32_t zero_point)
{
    float q = rintf(x / scale) + (float)zero_point;
    if (!(q >= (float)INT8_MIN)) q = (float)INT8_MIN; /* also catches NaN */
    if (q > (float)INT8_MAX) q = (float)INT8_MAX;
    return (int8_t)q;
}
