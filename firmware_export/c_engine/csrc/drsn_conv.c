/* drsn_conv.c: CONV_2D (int8, per-channel, grouped and dilated), as TFLite's reference kernel.
 *
 * The input offset is folded into the bias at export time; taps that fall
 * outside the input are subtracted again, so the integer is the reference's.
 */
#include <stddef.h>
#include <string.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

#include "drsn_conv_pairs.h"

#if DRSN_DSP
#define DSP_ROW_WORDS 64 /* rows of up to 128 bytes (k_w * in_c) take the SMLAD path */
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
                const int32_t paired = interior_pairs(p, in + (size_t)y0 * p->in_w * p->in_c, ox, row, dst);
                if (paired > 0) {
                    ox += paired - 1;
                    continue;
                }
#if DRSN_DSP
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
