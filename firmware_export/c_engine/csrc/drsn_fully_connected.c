/* drsn_fully_connected.c: FULLY_CONNECTED (int8), as LiteRT's reference kernel: the accumulator is
 * requantised in double, round(acc * input_scale * filter_scale / output_scale), halves away from zero. */
#include <math.h>
#include <stddef.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

void drsn_fully_connected(const drsn_fc_params *p, const int8_t *in, int8_t *out)
{
    int32_t b, u, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (size_t)b * p->depth;
        for (u = 0; u < p->units; ++u) {
            const int8_t *w = p->weights + (size_t)u * p->depth;
            const double scale = p->scales[p->per_channel ? u : 0];
            int32_t acc = 0, value;
            for (d = 0; d < p->depth; ++d)
                acc += ((int32_t)w[d] + p->weights_offset) * ((int32_t)x[d] + p->input_offset);
            if (p->bias != NULL) acc += p->bias[u];
            value = (int32_t)round((double)acc * scale) + p->output_offset;
            out[(size_t)b * p->units + u] = (int8_t)drsn_clamp(value, p->act_min, p->act_max);
        }
    }
}
