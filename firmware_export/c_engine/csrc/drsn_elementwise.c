/* drsn_elementwise.c: ADD, SUB, MUL with broadcasting, and ABS (int8), as TFLite's reference kernels.
 *
 * ADD/SUB rescale both inputs after a left shift of 20 (the multipliers are
 * smaller than one); MUL requantises the product; ABS rescales when its
 * input and output scales differ.
 */
#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

/* ADD/SUB rescale each input on its own, so the 256 possible int8 values are rescaled once per call */
static void rescale_table(int32_t table[256], int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift)
{
    int32_t v;
    for (v = INT8_MIN; v <= INT8_MAX; ++v)
        table[(uint8_t)v] = drsn_mbqm_smaller_than_one((v + offset) * (1 << left_shift), multiplier, shift);
}

enum { DRSN_ADD, DRSN_SUB, DRSN_MUL };

static void broadcast(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out, int kind)
{
    int32_t ta[256], tb[256];
    int32_t i0, i1, i2, i3;
    const int32_t n3 = p->out_shape[3], sa = p->in1_strides[3], sb = p->in2_strides[3];
    if (kind != DRSN_MUL) {
        rescale_table(ta, p->in1_offset, p->left_shift, p->in1_multiplier, p->in1_shift);
        rescale_table(tb, p->in2_offset, p->left_shift, p->in2_multiplier, p->in2_shift);
    }
    for (i0 = 0; i0 < p->out_shape[0]; ++i0)
        for (i1 = 0; i1 < p->out_shape[1]; ++i1)
            for (i2 = 0; i2 < p->out_shape[2]; ++i2, out += n3) {
                const int8_t *ra = a + i0 * p->in1_strides[0] + i1 * p->in1_strides[1] + i2 * p->in1_strides[2];
                const int8_t *rb = b + i0 * p->in2_strides[0] + i1 * p->in2_strides[1] + i2 * p->in2_strides[2];
                /* one inner loop per kind: the innermost axis carries almost all the work */
                if (kind == DRSN_MUL) {
                    for (i3 = 0; i3 < n3; ++i3) {
                        const int32_t prod =
                            ((int32_t)ra[i3 * sa] + p->in1_offset) * ((int32_t)rb[i3 * sb] + p->in2_offset);
                        const int32_t scaled = drsn_mbqm(prod, p->out_multiplier, p->out_shift);
                        out[i3] = (int8_t)drsn_clamp(scaled + p->out_offset, p->act_min, p->act_max);
                    }
                } else if (kind == DRSN_ADD) {
                    for (i3 = 0; i3 < n3; ++i3) {
                        const int32_t raw = ta[(uint8_t)ra[i3 * sa]] + tb[(uint8_t)rb[i3 * sb]];
                        const int32_t scaled = drsn_mbqm_smaller_than_one(raw, p->out_multiplier, p->out_shift);
                        out[i3] = (int8_t)drsn_clamp(scaled + p->out_offset, p->act_min, p->act_max);
                    }
                } else {
                    for (i3 = 0; i3 < n3; ++i3) {
                        const int32_t raw = ta[(uint8_t)ra[i3 * sa]] - tb[(uint8_t)rb[i3 * sb]];
                        const int32_t scaled = drsn_mbqm_smaller_than_one(raw, p->out_multiplier, p->out_shift);
                        out[i3] = (int8_t)drsn_clamp(scaled + p->out_offset, p->act_min, p->act_max);
                    }
                }
            }
}

void drsn_add(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    broadcast(p, a, b, out, DRSN_ADD);
}

void drsn_sub(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    broadcast(p, a, b, out, DRSN_SUB);
}

void drsn_mul(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    broadcast(p, a, b, out, DRSN_MUL);
}

void drsn_abs(const drsn_abs_params *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t d = (int32_t)in[i] - p->input_zero_point;
        const int32_t v = d < 0 ? -d : d;
        const int32_t r = p->needs_rescale ? drsn_mbqm(v, p->multiplier, p->shift) : v;
        out[i] = (int8_t)drsn_clamp(r + p->output_zero_point, INT8_MIN, INT8_MAX);
    }
}
