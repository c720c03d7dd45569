/* drsn_pooling.c: MAX_POOL_2D and PAD/PADV2 (int8), as TFLite's reference kernels. */
#include <stddef.h>
#include <string.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

/* a 1x1 window (a strided subsample, the shortcut of a strided residual unit): whole pixels copied, then
 * clamped only where the activation range is narrower than int8 */
static void subsample(const drsn_pool_params *p, const int8_t *in, int8_t *out)
{
    const size_t channels = (size_t)p->channels;
    const int clamp = p->act_min > INT8_MIN || p->act_max < INT8_MAX;
    int32_t oy, ox;
    size_t c;
    for (oy = 0; oy < p->out_h; ++oy)
        for (ox = 0; ox < p->out_w; ++ox, out += channels) {
            const int32_t iy = oy * p->stride_h - p->pad_h, ix = ox * p->stride_w - p->pad_w;
            memcpy(out, in + ((size_t)iy * p->in_w + ix) * channels, channels);
            if (clamp)
                for (c = 0; c < channels; ++c) out[c] = (int8_t)drsn_clamp(out[c], p->act_min, p->act_max);
        }
}

void drsn_max_pool2d(const drsn_pool_params *p, const int8_t *in, int8_t *out)
{
    int32_t oy, ox, c, fy, fx;
    if (p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0) {
        subsample(p, in, out);
        return;
    }
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int32_t fy0 = y0 < 0 ? -y0 : 0;
        const int32_t fy1 = p->k_h < p->in_h - y0 ? p->k_h : p->in_h - y0;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            const int32_t fx0 = x0 < 0 ? -x0 : 0;
            const int32_t fx1 = p->k_w < p->in_w - x0 ? p->k_w : p->in_w - x0;
            for (c = 0; c < p->channels; ++c) {
                int32_t best = INT8_MIN;
                for (fy = fy0; fy < fy1; ++fy) {
                    for (fx = fx0; fx < fx1; ++fx) {
                        const int32_t v = in[((size_t)(y0 + fy) * p->in_w + (x0 + fx)) * p->channels + c];
                        if (v > best) best = v;
                    }
                }
                out[((size_t)oy * p->out_w + ox) * p->channels + c] =
                    (int8_t)drsn_clamp(best, p->act_min, p->act_max);
            }
        }
    }
}

/* rows of the innermost axis: fill, copy, fill (the generator merges unpadded trailing axes into it) */
void drsn_pad(const drsn_pad_params *p, const int8_t *in, int8_t *out)
{
    const int8_t value = (int8_t)p->value;
    const int32_t n3 = p->out_shape[3], c3 = p->in_shape[3], b3 = p->before[3];
    int32_t i0, i1, i2;
    for (i0 = 0; i0 < p->out_shape[0]; ++i0)
        for (i1 = 0; i1 < p->out_shape[1]; ++i1)
            for (i2 = 0; i2 < p->out_shape[2]; ++i2, out += n3) {
                const int32_t k0 = i0 - p->before[0], k1 = i1 - p->before[1], k2 = i2 - p->before[2];
                if (k0 < 0 || k0 >= p->in_shape[0] || k1 < 0 || k1 >= p->in_shape[1] || k2 < 0 ||
                    k2 >= p->in_shape[2]) {
                    memset(out, value, (size_t)n3);
                    continue;
                }
                memset(out, value, (size_t)b3);
                memcpy(out + b3, in + (((size_t)k0 * p->in_shape[1] + k1) * p->in_shape[2] + k2) * c3, (size_t)c3);
                memset(out + b3 + c3, value, (size_t)(n3 - b3 - c3));
            }
}
