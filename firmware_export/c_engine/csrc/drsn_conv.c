/* drsn_conv.c: CONV_2D (int8, per-channel, grouped and dilated), as TFLite's reference kernel.
 *
 * The input offset is folded into the bias at export time; taps that fall
 * outside the input are subtracted again, so the integer is the reference's.
 */
#include <stddef.h>
#include <string.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define DRSN_DSP 1
#define DSP_ROW_WORDS 64 /* rows of up to 128 bytes (k_w * in_c) take the SMLAD path */
#else
#define DRSN_DSP 0
#endif

static inline int32_t dot(const int8_t *w, const int8_t *x, int32_t n)
{
    int32_t i = 0, acc = 0;
    for (; i + 4 <= n; i += 4)
        acc += (int32_t)w[i] * x[i] + (int32_t)w[i + 1] * x[i + 1] + (int32_t)w[i + 2] * x[i + 2] +
               (int32_t)w[i + 3] * x[i + 3];
    for (; i < n; ++i) acc += (int32_t)w[i] * x[i];
    return acc;
}

static inline int8_t conv_output(const drsn_conv_params *p, int32_t oc, int32_t acc)
{
    acc = drsn_mbqm(acc + p->folded_bias[oc], p->multiplier[oc], p->shift[oc]) + p->output_offset;
    return (int8_t)drsn_clamp(acc, p->act_min, p->act_max);
}

/* conv_output with the per-layer values in registers: stores through int8_t pointers may alias
 * anything, so values read through p would be loaded again after every store */
typedef struct {
    const int32_t *bias, *multiplier, *shift;
    int32_t offset, lo, hi;
} requant;

static inline int8_t requantise(const requant *q, int32_t oc, int32_t acc)
{
    acc = drsn_mbqm(acc + q->bias[oc], q->multiplier[oc], q->shift[oc]) + q->offset;
    return (int8_t)drsn_clamp(acc, q->lo, q->hi);
}

#if DRSN_DSP
static inline uint32_t load32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* one LDR: the M4 loads unaligned words */
    return v;
}

/* drsn_mbqm through SMMULR, (a b + 2^31) >> 32 with a = 2 (x << left): that is floor((x 2^left m + 2^30)
 * / 2^31), SaturatingRoundingDoublingHighMul's integer, when |x << left| < 2^30 (the generator checks
 * this bound per layer: p->smmulr_safe) */
static inline int8_t requantise_smmulr(const requant *q, int32_t oc, int32_t acc)
{
    const int32_t shift = q->shift[oc];
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t a = (int32_t)((uint32_t)(acc + q->bias[oc]) << (left + 1));
    int32_t high;
    __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"(a), "r"(q->multiplier[oc]));
    return (int8_t)drsn_clamp(drsn_rdbpot(high, shift > 0 ? 0 : -shift) + q->offset, q->lo, q->hi);
}

/* requantise_smmulr when the generator proved drsn_requant exact for the layer (smmulr_safe 2): the
 * exponent and rounding constant of each channel come from fast_constants */
static inline int8_t requantise_fast(const requant *q, const int32_t *exponent, const int32_t *round, int32_t oc,
                                     int32_t acc)
{
    return (int8_t)drsn_clamp_hi127(drsn_requant(acc + q->bias[oc], q->multiplier[oc], exponent[oc], round[oc]),
                                    q->lo);
}

#define FAST_CHANNELS 64 /* layers with up to this many output channels take requantise_fast */

static void fast_constants(const drsn_conv_params *p, int32_t *exponent, int32_t *round)
{
    int32_t oc;
    for (oc = 0; oc < p->out_c; ++oc) {
        exponent[oc] = -p->shift[oc];
        round[oc] = (1 << (exponent[oc] - 1)) + p->output_offset * (1 << exponent[oc]);
    }
}

/* bytes 1 and 3 sign-extended: SXTB16 with its built-in rotation (ACLE has no intrinsic for it) */
static inline int16x2_t sxtb16_ror8(uint32_t v)
{
    int16x2_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

/* n (a multiple of 4) input bytes as halfword pairs: [2i] holds bytes 0 and 2 of word i, [2i + 1]
 * bytes 1 and 3, sign-extended (SXTB16), ready for SMLAD against weights unpacked the same way */
static inline void widen(const int8_t *x, int32_t n, int16x2_t *out)
{
    int32_t i;
    for (i = 0; i < n; i += 4, out += 2) {
        const uint32_t v = load32(x + i);
        out[0] = __sxtb16(v);
        out[1] = sxtb16_ror8(v);
    }
}

#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif
#define PAIR_WORDS 16 /* rows of up to 64 bytes take the two-pixel path */

/* the window at src widened as widen() does, rw words; the bytes of the last word past the row are
 * masked to zero (the stem's 3-byte rows: the weight word read there meets zeros) */
static inline ALWAYS_INLINE void widen_masked(const int8_t *src, int32_t rw, uint32_t last, int16x2_t *out)
{
    int32_t i;
    for (i = 0; i < rw; ++i) {
        const uint32_t v = load32(src + 4 * i) & (i == rw - 1 ? last : 0xFFFFFFFFu);
        out[2 * i] = __sxtb16(v);
        out[2 * i + 1] = sxtb16_ror8(v);
    }
}

/* two output channels (weight rows w and w + row) at two pixels (x0, x1): each weight word is loaded and
 * widened once for four SMLADs. acc: channel 0 at pixels 0, 1, then channel 1 at pixels 0, 1 */
static inline ALWAYS_INLINE void dot2x2(const int8_t *w, int32_t row, int32_t rw, const int16x2_t *x0,
                                        const int16x2_t *x1, int32_t acc[4])
{
    int32_t i, a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (i = 0; i < rw; ++i) {
        uint32_t u = load32(w + 4 * i);
        int16x2_t even = __sxtb16(u), odd = sxtb16_ror8(u);
        a0 = __smlad(odd, x0[2 * i + 1], __smlad(even, x0[2 * i], a0));
        a1 = __smlad(odd, x1[2 * i + 1], __smlad(even, x1[2 * i], a1));
        u = load32(w + row + 4 * i);
        even = __sxtb16(u);
        odd = sxtb16_ror8(u);
        a2 = __smlad(odd, x0[2 * i + 1], __smlad(even, x0[2 * i], a2));
        a3 = __smlad(odd, x1[2 * i + 1], __smlad(even, x1[2 * i], a3));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

typedef struct {
    const int32_t *bias, *multiplier, *exponent, *round;
    int32_t lo;
} fast_requant;

static inline int8_t requantise_pair(const fast_requant *q, int32_t oc, int32_t acc)
{
    return (int8_t)drsn_clamp_hi127(drsn_requant(acc + q->bias[oc], q->multiplier[oc], q->exponent[oc],
                                                 q->round[oc]), q->lo);
}

/* pixels ox, ox + 1, ... two at a time while both windows' words lie inside the input (1-D layers, an even
 * number of output channels, drsn_requant proven: smmulr_safe 2); rw = the row's words, a constant
 * where the dispatcher below inlines it. Returns the pixels done (even; 0: not this layer) */
static inline ALWAYS_INLINE int32_t pairs_rw(const drsn_conv_params *p, const int8_t *in_row, int32_t ox,
                                             int32_t row, int32_t rw, int8_t *dst)
{
    int16x2_t x0[2 * PAIR_WORDS], x1[2 * PAIR_WORDS];
    int32_t exponent[FAST_CHANNELS], round[FAST_CHANNELS], acc[4], oc, done = 0;
    const int32_t out_c = p->out_c, in_c = p->in_c, in_w = p->in_w, step = p->stride_w * in_c;
    const int32_t stride = p->stride_w, pad = p->pad_w;
    const uint32_t last = row % 4 ? 0xFFFFFFFFu >> (8 * (4 - row % 4)) : 0xFFFFFFFFu;
    const fast_requant q = {p->folded_bias, p->multiplier, exponent, round, p->act_min};
    fast_constants(p, exponent, round);
    /* both windows' words (4 rw bytes from each start, the masked ones too) inside the input */
    for (; ox + 1 < p->out_w && ((ox + 1) * stride - pad) * in_c + 4 * rw <= in_w * in_c;
         ox += 2, done += 2, dst += 2 * out_c) {
        const int8_t *src = in_row + (size_t)(ox * stride - pad) * in_c, *w = p->weights;
        widen_masked(src, rw, last, x0);
        widen_masked(src + step, rw, last, x1);
        for (oc = 0; oc < out_c; oc += 2, w += 2 * row) {
            dot2x2(w, row, rw, x0, x1, acc);
            dst[oc] = requantise_pair(&q, oc, acc[0]);
            dst[out_c + oc] = requantise_pair(&q, oc, acc[1]);
            dst[oc + 1] = requantise_pair(&q, oc + 1, acc[2]);
            dst[out_c + oc + 1] = requantise_pair(&q, oc + 1, acc[3]);
        }
    }
    return done;
}

static int32_t interior_pairs(const drsn_conv_params *p, const int8_t *in_row, int32_t ox, int32_t row,
                              int8_t *dst)
{
    const int32_t rw = (row + 3) / 4;
    if (p->smmulr_safe != 2 || p->k_h != 1 || p->out_c % 2 != 0 || p->out_c > FAST_CHANNELS || rw > PAIR_WORDS)
        return 0;
    switch (rw) { /* the row lengths of 3-tap layers over 1, 4, 8 and 16 channels, unrolled */
    case 1: return pairs_rw(p, in_row, ox, row, 1, dst);
    case 3: return pairs_rw(p, in_row, ox, row, 3, dst);
    case 6: return pairs_rw(p, in_row, ox, row, 6, dst);
    case 12: return pairs_rw(p, in_row, ox, row, 12, dst);
    default: return pairs_rw(p, in_row, ox, row, rw, dst);
    }
}

/* four output channels' dot products over one widened row (weights row bytes apart): two MACs per
 * SMLAD, each input word loaded once for the four */
static inline void dot4(const int8_t *w, int32_t row, const int16x2_t *x, int32_t acc[4])
{
    int32_t i, a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (i = 0; i < row; i += 4, x += 2) {
        const int16x2_t x0 = x[0], x1 = x[1];
        uint32_t u = load32(w + i);
        a0 = __smlad(__sxtb16(u), x0, a0);
        a0 = __smlad(sxtb16_ror8(u), x1, a0);
        u = load32(w + row + i);
        a1 = __smlad(__sxtb16(u), x0, a1);
        a1 = __smlad(sxtb16_ror8(u), x1, a1);
        u = load32(w + 2 * row + i);
        a2 = __smlad(__sxtb16(u), x0, a2);
        a2 = __smlad(sxtb16_ror8(u), x1, a2);
        u = load32(w + 3 * row + i);
        a3 = __smlad(__sxtb16(u), x0, a3);
        a3 = __smlad(sxtb16_ror8(u), x1, a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* the interior pixels of a 1-D convolution (k_h 1) from output column ox on, while every tap lies inside
 * the input, for a multiple of 4 output channels; returns how many pixels it computed (0: not this
 * layer). A row that is not a multiple of 4 bytes (the stem's 3) is copied and padded with zeros; the
 * weight words read past a channel's row meet those zeros (and the generator ends the weights with 3
 * zero bytes, so the last channel's read stays inside them). */
static int32_t interior_run_dsp(const drsn_conv_params *p, const int8_t *in_row, int32_t ox, int32_t row,
                                int8_t *dst)
{
    int16x2_t x[DSP_ROW_WORDS];
    int32_t exponent[FAST_CHANNELS], round[FAST_CHANNELS];
    int8_t padded[8];
    int32_t acc[4], oc, j, i, done = 0;
    const int32_t out_c = p->out_c, bytes = (row + 3) & ~3, in_c = p->in_c, k_w = p->k_w, in_w = p->in_w;
    const int32_t stride = p->stride_w, pad = p->pad_w, safe = p->smmulr_safe;
    const requant q = {p->folded_bias, p->multiplier, p->shift, p->output_offset, p->act_min, p->act_max};
    if (bytes > 2 * DSP_ROW_WORDS || p->k_h != 1 || out_c % 4 != 0 || (row != bytes && bytes > 8)) return 0;
    if (safe == 2 && out_c <= FAST_CHANNELS) fast_constants(p, exponent, round);
    for (; ox < p->out_w && ox * stride - pad + k_w <= in_w; ++ox, ++done, dst += out_c) {
        const int8_t *src = in_row + (size_t)(ox * stride - pad) * in_c, *w = p->weights;
        if (row != bytes) {
            for (i = 0; i < row; ++i) padded[i] = src[i];
            for (; i < bytes; ++i) padded[i] = 0;
            src = padded;
        }
        widen(src, bytes, x);
        for (oc = 0; oc < out_c; oc += 4, w += 4 * row) {
            dot4(w, row, x, acc);
            if (safe == 2 && out_c <= FAST_CHANNELS)
                for (j = 0; j < 4; ++j) dst[oc + j] = requantise_fast(&q, exponent, round, oc + j, acc[j]);
            else if (safe)
                for (j = 0; j < 4; ++j) dst[oc + j] = requantise_smmulr(&q, oc + j, acc[j]);
            else
                for (j = 0; j < 4; ++j) dst[oc + j] = requantise(&q, oc + j, acc[j]);
        }
    }
    return done;
}
#endif

static int32_t wsum(const int8_t *w, int32_t n)
{
    int32_t i, acc = 0;
    for (i = 0; i < n; ++i) acc += w[i];
    return acc;
}

/* sum over taps inside the input of w * (x + input_offset), plus bias, computed as
 * sum(w * x) + folded_bias - input_offset * sum(w over taps outside the input): the same integer */
void drsn_conv2d(const drsn_conv_params *p, const int8_t *in, int8_t *out)
{
    const int32_t groups = p->in_c / p->filter_in_c;
    const int32_t per_group = p->out_c / groups;
    const int32_t row = p->k_w * p->filter_in_c;
    const size_t row_step = (size_t)p->dil_h * p->in_w * p->in_c;
    const int contiguous = p->dil_w == 1 && p->filter_in_c == p->in_c;
    const int32_t out_c = p->out_c, k_h = p->k_h;
    const requant q = {p->folded_bias, p->multiplier, p->shift, p->output_offset, p->act_min, p->act_max};
    int32_t oy, ox, oc, ky, kx;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int inside_h = y0 >= 0 && y0 + (p->k_h - 1) * p->dil_h < p->in_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            int8_t *dst = out + ((size_t)oy * p->out_w + ox) * p->out_c;
            if (contiguous && inside_h && x0 >= 0 && x0 + p->k_w <= p->in_w) { /* every tap inside */
                const int8_t *src = in + ((size_t)y0 * p->in_w + x0) * p->in_c;
                const int8_t *w = p->weights;
#if DRSN_DSP
                const int32_t paired = interior_pairs(p, in + (size_t)y0 * p->in_w * p->in_c, ox, row, dst);
                if (paired > 0) {
                    ox += paired - 1;
                    continue;
                }
                const int32_t done = interior_run_dsp(p, in + (size_t)y0 * p->in_w * p->in_c, ox, row, dst);
                if (done > 0) {
                    ox += done - 1;
                    continue;
                }
#endif
                for (oc = 0; oc < out_c; ++oc) {
                    int32_t acc = 0;
                    for (ky = 0; ky < k_h; ++ky, w += row) acc += dot(w, src + ky * row_step, row);
                    dst[oc] = requantise(&q, oc, acc);
                }
                continue;
            }
            for (oc = 0; oc < p->out_c; ++oc) {
                const size_t channel = (size_t)(oc / per_group) * p->filter_in_c;
                const int8_t *wc = p->weights + (size_t)oc * p->k_h * row;
                int32_t acc = 0, missing = 0;
                for (ky = 0; ky < p->k_h; ++ky) {
                    const int32_t iy = y0 + p->dil_h * ky;
                    const int8_t *wr = wc + (size_t)ky * row;
                    if (iy < 0 || iy >= p->in_h) {
                        missing += wsum(wr, row);
                        continue;
                    }
                    for (kx = 0; kx < p->k_w; ++kx) {
                        const int32_t ix = x0 + p->dil_w * kx;
                        if (ix < 0 || ix >= p->in_w) missing += wsum(wr + (size_t)kx * p->filter_in_c, p->filter_in_c);
                        else acc += dot(wr + (size_t)kx * p->filter_in_c,
                                        in + ((size_t)iy * p->in_w + ix) * p->in_c + channel, p->filter_in_c);
                    }
                }
                dst[oc] = conv_output(p, oc, acc - p->input_offset * missing);
            }
        }
    }
}
