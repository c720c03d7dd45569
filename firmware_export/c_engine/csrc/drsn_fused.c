/* drsn_fused.c: element-wise chains in one pass each, computing per element exactly the integers of
 * TFLite's reference kernels for the unfused ops (ADD, SUB, MUL, ABS, MEAN), without their intermediate
 * tensors. Which chains are fused, and the proofs that drsn_requant is exact for each, live in the
 * generator (fuse.py). Loops run channel by channel, so the per-channel values stay in registers. */
#include <stddef.h>

#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

/* an ADD/SUB input as the reference rescales it: ((v + offset) << 20) times a multiplier below one
 * (|v + offset| <= 255, so the shifted value stays below 2^28 and drsn_high is SRDHM's integer) */
static inline int32_t rescale(int32_t v, int32_t offset, int32_t multiplier, int32_t shift)
{
    return drsn_rdbpot(drsn_high((v + offset) * (1 << 20), multiplier), -shift);
}

/* channels of more pixels than this are computed once per int8 value into a table, then looked up */
#define TABLE_PIXELS 288

/* every int8 value once, in the order of its uint8_t bit pattern */
static void all_values(int8_t values[256])
{
    int32_t v;
    for (v = 0; v < 256; ++v) values[v] = (int8_t)(uint8_t)v;
}

/* out[i] = table[in[i]] over one channel's pixels */
static void look_up_channel(const int8_t table[256], const int8_t *in, int8_t *out, int32_t step, int32_t n)
{
    int32_t i;
    for (i = 0; i < n * step; i += step) out[i] = table[(uint8_t)in[i]];
}

typedef struct {
    /* per int8 value v at [v + 128], doubled for drsn_requant_doubled: x, SUB's output and MUL's output
     * rescaled; the last two taken at v clamped to SUB's and ADD's lower bound (their only use) */
    int32_t rx[256], rpos[256], rneg[256];
} shrink_tables;

/* n elements of one channel (doubled rescaled threshold t2), step bytes apart */
static void shrink_channel(const drsn_shrink_params *p, const shrink_tables *tb, int32_t t2, const int8_t *in,
                           int8_t *o, int32_t step, int32_t n)
{
    const int32_t sum_m = p->sum_multiplier, sum_e = p->sum_exponent, sum_r = p->sum_round;
    const int32_t dif_m = p->diff_multiplier, dif_e = p->diff_exponent, dif_r = p->diff_round;
    const int32_t out_m = p->out_multiplier, out_e = p->out_exponent, out_r = p->out_round, out_lo = p->out_min;
    const int32_t *rx = tb->rx + 128, *rpos = tb->rpos + 128, *rneg = tb->rneg + 128;
    int32_t i;
    for (i = 0; i < n * step; i += step) { /* indices, not pointers stepped past the end */
        const int32_t u = rx[in[i]];
        const int32_t sum = drsn_sat8(drsn_requant_doubled(u + t2, sum_m, sum_e, sum_r));
        const int32_t dif = drsn_sat8(drsn_requant_doubled(u - t2, dif_m, dif_e, dif_r));
        o[i] = (int8_t)drsn_clamp_hi127(drsn_requant_doubled(rpos[dif] - rneg[sum], out_m, out_e, out_r), out_lo);
    }
}

void drsn_shrink(const drsn_shrink_params *p, const int8_t *x, const int8_t *tau, int8_t *out)
{
    shrink_tables tb;
    int8_t values[256], table[256];
    int32_t v, c;
    for (v = INT8_MIN; v <= INT8_MAX; ++v) {
        const int32_t s = v < p->sum_min ? p->sum_min : v, d = v < p->diff_min ? p->diff_min : v;
        const int32_t neg = drsn_clamp(drsn_mbqm((s + p->neg_offset) * p->neg_factor, p->neg_multiplier,
                                                 p->neg_shift) + p->neg_zero_point, p->neg_min, p->neg_max);
        tb.rx[v + 128] = 2 * rescale(v, p->x_offset, p->x_multiplier, p->x_shift);
        tb.rpos[v + 128] = 2 * rescale(d, p->pos_offset, p->pos_multiplier, p->pos_shift);
        tb.rneg[v + 128] = 2 * rescale(neg, p->negr_offset, p->negr_multiplier, p->negr_shift);
    }
    all_values(values);
    for (c = 0; c < p->channels; ++c) {
        const int32_t t2 = 2 * rescale(tau[c * p->tau_step], p->tau_offset, p->tau_multiplier, p->tau_shift);
        if (p->pixels > TABLE_PIXELS) {
            shrink_channel(p, &tb, t2, values, table, 1, 256);
            look_up_channel(table, x + c, out + c, p->channels, p->pixels);
        } else {
            shrink_channel(p, &tb, t2, x + c, out + c, p->channels, p->pixels);
        }
    }
}

/* n elements of one channel (the MUL's doubled scale, the ADD's doubled rescaled bias), step bytes apart */
static void affine_channel(const drsn_affine_params *p, const int32_t *rm, int32_t scale2, int32_t bias2,
                           const int8_t *in, int8_t *o, int32_t step, int32_t n)
{
    const int32_t x_off = p->x_offset, mul_m = p->mul_multiplier, mul_e = p->mul_exponent, mul_r = p->mul_round;
    const int32_t out_m = p->out_multiplier, out_e = p->out_exponent, out_r = p->out_round, out_lo = p->out_min;
    int32_t i;
    for (i = 0; i < n * step; i += step) {
        const int32_t m = drsn_sat8(drsn_requant_doubled((in[i] + x_off) * scale2, mul_m, mul_e, mul_r));
        o[i] = (int8_t)drsn_clamp_hi127(drsn_requant_doubled(rm[m] + bias2, out_m, out_e, out_r), out_lo);
    }
}

void drsn_affine(const drsn_affine_params *p, const int8_t *x, int8_t *out)
{
    int32_t rm[256]; /* at [v + 128]: the MUL's output v (clamped to its lower bound) rescaled, doubled */
    int8_t values[256], table[256];
    int32_t v, c;
    for (v = INT8_MIN; v <= INT8_MAX; ++v)
        rm[v + 128] = 2 * rescale(v < p->mul_min ? p->mul_min : v, p->m_offset, p->m_multiplier, p->m_shift);
    all_values(values);
    for (c = 0; c < p->channels; ++c) {
        const int32_t scale2 = 2 * p->scale[c * p->param_step], bias2 = 2 * p->bias[c * p->param_step];
        if (p->pixels > TABLE_PIXELS) {
            affine_channel(p, rm + 128, scale2, bias2, values, table, 1, 256);
            look_up_channel(table, x + c, out + c, p->channels, p->pixels);
        } else {
            affine_channel(p, rm + 128, scale2, bias2, x + c, out + c, p->channels, p->pixels);
        }
    }
}

static void mean_out(const drsn_abs_mean_params *p, int32_t sum, int8_t *out)
{
    const int32_t v = drsn_mbqm(sum - p->input_zero_point * p->count, p->multiplier, p->shift);
    *out = (int8_t)drsn_clamp(v + p->output_zero_point, INT8_MIN, INT8_MAX);
}

void drsn_abs_mean(const drsn_abs_mean_params *p, const int8_t *x, int8_t *out)
{
    int8_t values[256], table[256]; /* ABS of every int8 value, then looked up */
    int32_t c = 0, i;
    const int32_t channels = p->channels, n = p->pixels * channels;
    all_values(values);
    drsn_abs(&p->abs, values, table);
    for (; c + 4 <= channels; c += 4) { /* four channels per pass: one pointer step per four sums */
        const int8_t *in = x + c;
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (i = 0; i < n; i += channels) {
            s0 += table[(uint8_t)in[i]];
            s1 += table[(uint8_t)in[i + 1]];
            s2 += table[(uint8_t)in[i + 2]];
            s3 += table[(uint8_t)in[i + 3]];
        }
        mean_out(p, s0, out + c);
        mean_out(p, s1, out + c + 1);
        mean_out(p, s2, out + c + 2);
        mean_out(p, s3, out + c + 3);
    }
    for (; c < channels; ++c) {
        const int8_t *in = x + c;
        int32_t sum = 0;
        for (i = 0; i < n; i += channels) sum += table[(uint8_t)in[i]];
        mean_out(p, sum, out + c);
    }
}
