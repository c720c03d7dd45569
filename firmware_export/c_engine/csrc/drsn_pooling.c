/* drsn_pooling.c: MAX_POOL_2D and PAD/PADV2 (int8), as TFLite's reference kernels. */
#include <stddef.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

void drsn_max_pool2d(const drsn_pool_params *p, const int8_t *in, int8_t *out)
{
    int32_t oy, ox, c, fy, fx;
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

void drsn_pad(const drsn_pad_params *p, const int8_t *in, int8_t *out)
{
    int32_t i[4];
    size_t o = 0;
    for (i[0] = 0; i[0] < p->out_shape[0]; ++i[0])
        for (i[1] = 0; i[1] < p->out_shape[1]; ++i[1])
            for (i[2] = 0; i[2] < p->out_shape[2]; ++i[2])
                for (i[3] = 0; i[3] < p->out_shape[3]; ++i[3], ++o) {
                    size_t src = 0;
                    int d, inside = 1;
                    for (d = 0; d < 4; ++d) {
                        const int32_t k = i[d] - p->before[d];
                        if (k < 0 || k >= p->in_shape[d]) inside = 0;
                        src = src * (size_t)p->in_shape[d] + (size_t)(k < 0 ? 0 : k);
                    }
                    out[o] = inside ? in[src] : (int8_t)p->value;
                }
}
