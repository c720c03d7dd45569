/* drsn_conv_pairs.h: the convolution's fast path (drsn_conv.c includes it once): interior pixels of 1-D
 * layers two at a time, two output channels per pass, requantised through drsn_requant where the generator
 * proved it exact (smmulr_safe 2). With __ARM_FEATURE_DSP the input windows are widened once into halfword
 * pairs and each weight word feeds four SMLADs; elsewhere a portable loop computes the same sums. */
#ifndef DRSN_CONV_PAIRS_H
#define DRSN_CONV_PAIRS_H

#include <stddef.h>
#include <string.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define DRSN_DSP 1
#else
#define DRSN_DSP 0
#endif

#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif
#define PAIR_WORDS 16 /* rows of up to 64 bytes take the two-pixel path */
#define FAST_CHANNELS 64 /* layers with up to this many output channels take requantise_fast */

static void fast_constants(const drsn_conv_params *p, int32_t *exponent, int32_t *round)
{
    int32_t oc;
    for (oc = 0; oc < p->out_c; ++oc) {
        exponent[oc] = -p->shift[oc];
        round[oc] = (1 << (exponent[oc] - 1)) + p->output_offset * (1 << exponent[oc]);
    }
}


#if DRSN_DSP
static inline uint32_t load32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* one LDR: the M4 loads unaligned words */
    return v;
}

/* bytes 1 and 3 sign-extended: SXTB16 with its built-in rotation (ACLE has no intrinsic for it) */
static inline int16x2_t sxtb16_ror8(uint32_t v)
{
    int16x2_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}


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

#else
/* the same four sums as dot2x2, over the row's bytes */
static inline ALWAYS_INLINE void dot2x2_bytes(const int8_t *w, int32_t row, const int8_t *x0, const int8_t *x1,
                                              int32_t acc[4])
{
    int32_t i, a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (i = 0; i < row; ++i) {
        const int32_t w0 = w[i], w1 = w[row + i];
        a0 += w0 * x0[i];
        a1 += w0 * x1[i];
        a2 += w1 * x0[i];
        a3 += w1 * x1[i];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

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
#if DRSN_DSP
    int16x2_t x0[2 * PAIR_WORDS], x1[2 * PAIR_WORDS];
    const uint32_t last = row % 4 ? 0xFFFFFFFFu >> (8 * (4 - row % 4)) : 0xFFFFFFFFu;
#endif
    int32_t exponent[FAST_CHANNELS], round[FAST_CHANNELS], acc[4], oc, done = 0;
    const int32_t out_c = p->out_c, in_c = p->in_c, in_w = p->in_w, step = p->stride_w * in_c;
    const int32_t stride = p->stride_w, pad = p->pad_w;
    const fast_requant q = {p->folded_bias, p->multiplier, exponent, round, p->act_min};
    fast_constants(p, exponent, round);
    /* both windows' words (4 rw bytes from each start, the masked ones too) inside the input */
    for (; ox + 1 < p->out_w && ((ox + 1) * stride - pad) * in_c + 4 * rw <= in_w * in_c;
         ox += 2, done += 2, dst += 2 * out_c) {
        const int8_t *src = in_row + (size_t)(ox * stride - pad) * in_c, *w = p->weights;
#if DRSN_DSP
        widen_masked(src, rw, last, x0);
        widen_masked(src + step, rw, last, x1);
#endif
        for (oc = 0; oc < out_c; oc += 2, w += 2 * row) {
#if DRSN_DSP
            dot2x2(w, row, rw, x0, x1, acc);
#else
            dot2x2_bytes(w, row, src, src + step, acc);
#endif
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
    if (p->smmulr_safe != 2 || p->k_h != 1 || p->out_c % 2 != 0 || p->out_c > FAST_CHANNELS ||
        (row + 3) / 4 > PAIR_WORDS)
        return 0;
    switch (row) { /* the rows of 3-tap layers over 1, 4, 8 and 16 channels, unrolled */
    case 3: return pairs_rw(p, in_row, ox, 3, 1, dst);
    case 12: return pairs_rw(p, in_row, ox, 12, 3, dst);
    case 24: return pairs_rw(p, in_row, ox, 24, 6, dst);
    case 48: return pairs_rw(p, in_row, ox, 48, 12, dst);
    default: return pairs_rw(p, in_row, ox, row, (row + 3) / 4, dst);
    }
}

#endif
