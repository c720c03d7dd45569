/* drsn_reduce.c: MEAN over any set of axes (int8), as TFLite's QuantizedMeanOrSum with the count folded
 * into the multiplier at export time. */
#include <stddef.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

void drsn_mean(const drsn_mean_params *p, const int8_t *in, int8_t *out)
{
    int32_t o[4], r[4], lim[4], span[4], d;
    size_t stride[4], k = 0;
    stride[3] = 1;
    for (d = 2; d >= 0; --d) stride[d] = stride[d + 1] * (size_t)p->in_shape[d + 1];
    for (d = 0; d < 4; ++d) {
        lim[d] = p->reduce[d] ? 1 : p->in_shape[d];
        span[d] = p->reduce[d] ? p->in_shape[d] : 1;
    }
    for (o[0] = 0; o[0] < lim[0]; ++o[0])
        for (o[1] = 0; o[1] < lim[1]; ++o[1])
            for (o[2] = 0; o[2] < lim[2]; ++o[2])
                for (o[3] = 0; o[3] < lim[3]; ++o[3], ++k) {
                    const int8_t *base = in + o[0] * stride[0] + o[1] * stride[1] + o[2] * stride[2] + o[3];
                    int32_t sum = 0, value;
                    for (r[0] = 0; r[0] < span[0]; ++r[0])
                        for (r[1] = 0; r[1] < span[1]; ++r[1])
                            for (r[2] = 0; r[2] < span[2]; ++r[2])
                                for (r[3] = 0; r[3] < span[3]; ++r[3])
                                    sum += base[r[0] * stride[0] + r[1] * stride[1] + r[2] * stride[2] + r[3]];
                    value = drsn_mbqm(sum - p->input_zero_point * p->count, p->multiplier, p->shift);
                    out[k] = (int8_t)drsn_clamp(value + p->output_zero_point, INT8_MIN, INT8_MAX);
                }
}
