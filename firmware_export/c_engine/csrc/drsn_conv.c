/* drsn_conv.c: CONV_2D (int8, per-channel, grouped and dilated), as TFLite's reference kernel.
 *
 * The input offset is folded into the bias at export time; taps that fall
 * outside the input are subtracted again, so the integer is the reference's.
 */
#include <stddef.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

static inline int32_t dot(const int8_t *w, const int8_t *x, int32_t n)
{
    int32_t i = 0, acc = 0;
    for (; i + 4 <= n; i += 4)
        acc += (int32_t)w[i] * x[i] + (int32_t)w[i + 1] * x[i + 1] + (int32_t)w[i + 2] * x[i + 2] +
               (int32_t)w[i + 3] * x[i + 3];
    for (; i < n; ++i) acc += (int32_t)w[i] * x[i];
    return acc;
}

static int32_t wsum(const int8_t *w, int32_t n)
{
    int32_t i, acc = 0;
    for (i = 0; i < n; ++i) acc += w[i];
    return acc;
}

static inline int8_t conv_output(const drsn_conv_params *p, int32_t oc, int32_t acc)
{
    acc = drsn_mbqm(acc + p->folded_bias[oc], p->multiplier[oc], p->shift[oc]) + p->output_offset;
    return (int8_t)drsn_clamp(acc, p->act_min, p->act_max);
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
                for (oc = 0; oc < p->out_c; ++oc) {
                    int32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ++ky, w += row) acc += dot(w, src + ky * row_step, row);
                    dst[oc] = conv_output(p, oc, acc);
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
