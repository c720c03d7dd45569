/* drsn_kernels.c: int8 kernels of the drsn-edge C engine (see drsn_kernels.h).
 *
 * The arithmetic follows TensorFlow Lite's reference kernels exactly:
 * gemmlowp's double-rounding MultiplyByQuantizedMultiplier, the ADD/SUB
 * left shift of 20, MEAN's count-folded multiplier, and the float
 * requantisation of LiteRT's reference FULLY_CONNECTED.
 */
#include "drsn_kernels.h"

#include <math.h>
#include <stddef.h>

static int32_t clamp32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

int32_t drsn_srdhm(int32_t a, int32_t b)
{
    const int overflow = (a == b) && (a == INT32_MIN);
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    const int32_t high = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    return overflow ? INT32_MAX : high;
}

int32_t drsn_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t drsn_mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    /* x * (1 << left) wraps like TFLite's (it is only large for multipliers far above 1) */
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return drsn_rdbpot(drsn_srdhm(shifted, multiplier), right);
}

int32_t drsn_mbqm_smaller_than_one(int32_t x, int32_t multiplier, int shift)
{
    return drsn_rdbpot(drsn_srdhm(x, multiplier), -shift);
}

void drsn_conv2d(const drsn_conv_params *p, const int8_t *in, int8_t *out)
{
    const int32_t groups = p->in_c / p->filter_in_c;
    const int32_t per_group = p->out_c / groups;
    int32_t oy, ox, oc, ky, kx, ic;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            for (oc = 0; oc < p->out_c; ++oc) {
                const int32_t group = oc / per_group;
                int32_t acc = 0;
                for (ky = 0; ky < p->k_h; ++ky) {
                    const int32_t iy = y0 + p->dil_h * ky;
                    if (iy < 0 || iy >= p->in_h) continue;
                    for (kx = 0; kx < p->k_w; ++kx) {
                        const int32_t ix = x0 + p->dil_w * kx;
                        const int8_t *src;
                        const int8_t *w;
                        if (ix < 0 || ix >= p->in_w) continue;
                        src = in + ((size_t)iy * p->in_w + ix) * p->in_c + (size_t)group * p->filter_in_c;
                        w = p->weights + (((size_t)oc * p->k_h + ky) * p->k_w + kx) * p->filter_in_c;
                        for (ic = 0; ic < p->filter_in_c; ++ic) acc += (int32_t)w[ic] * ((int32_t)src[ic] + p->input_offset);
                    }
                }
                if (p->bias != NULL) acc += p->bias[oc];
                acc = drsn_mbqm(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                out[((size_t)oy * p->out_w + ox) * p->out_c + oc] = (int8_t)clamp32(acc, p->act_min, p->act_max);
            }
        }
    }
}

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
                out[((size_t)oy * p->out_w + ox) * p->channels + c] = (int8_t)clamp32(best, p->act_min, p->act_max);
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

typedef int32_t (*drsn_binary_fn)(const drsn_binary_params *p, int32_t a, int32_t b);

static int32_t add_fn(const drsn_binary_params *p, int32_t a, int32_t b)
{
    const int32_t sa = drsn_mbqm_smaller_than_one((a + p->in1_offset) * (1 << p->left_shift), p->in1_multiplier, p->in1_shift);
    const int32_t sb = drsn_mbqm_smaller_than_one((b + p->in2_offset) * (1 << p->left_shift), p->in2_multiplier, p->in2_shift);
    return drsn_mbqm_smaller_than_one(sa + sb, p->out_multiplier, p->out_shift) + p->out_offset;
}

static int32_t sub_fn(const drsn_binary_params *p, int32_t a, int32_t b)
{
    const int32_t sa = drsn_mbqm_smaller_than_one((a + p->in1_offset) * (1 << p->left_shift), p->in1_multiplier, p->in1_shift);
    const int32_t sb = drsn_mbqm_smaller_than_one((b + p->in2_offset) * (1 << p->left_shift), p->in2_multiplier, p->in2_shift);
    return drsn_mbqm_smaller_than_one(sa - sb, p->out_multiplier, p->out_shift) + p->out_offset;
}

static int32_t mul_fn(const drsn_binary_params *p, int32_t a, int32_t b)
{
    return drsn_mbqm((a + p->in1_offset) * (b + p->in2_offset), p->out_multiplier, p->out_shift) + p->out_offset;
}

static void broadcast(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out, drsn_binary_fn fn)
{
    int32_t i0, i1, i2, i3;
    size_t o = 0;
    for (i0 = 0; i0 < p->out_shape[0]; ++i0)
        for (i1 = 0; i1 < p->out_shape[1]; ++i1)
            for (i2 = 0; i2 < p->out_shape[2]; ++i2) {
                const int8_t *ra = a + i0 * p->in1_strides[0] + i1 * p->in1_strides[1] + i2 * p->in1_strides[2];
                const int8_t *rb = b + i0 * p->in2_strides[0] + i1 * p->in2_strides[1] + i2 * p->in2_strides[2];
                for (i3 = 0; i3 < p->out_shape[3]; ++i3, ++o) {
                    const int32_t v = fn(p, ra[i3 * p->in1_strides[3]], rb[i3 * p->in2_strides[3]]);
                    out[o] = (int8_t)clamp32(v, p->act_min, p->act_max);
                }
            }
}

void drsn_add(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out) { broadcast(p, a, b, out, add_fn); }
void drsn_sub(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out) { broadcast(p, a, b, out, sub_fn); }
void drsn_mul(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out) { broadcast(p, a, b, out, mul_fn); }

void drsn_abs(const drsn_abs_params *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t d = (int32_t)in[i] - p->input_zero_point;
        const int32_t v = d < 0 ? -d : d;
        const int32_t r = p->needs_rescale ? drsn_mbqm(v, p->multiplier, p->shift) : v;
        out[i] = (int8_t)clamp32(r + p->output_zero_point, INT8_MIN, INT8_MAX);
    }
}

void drsn_mean(const drsn_mean_params *p, const int8_t *in, int8_t *out)
{
    int32_t o[4], r[4], lim[4], d;
    size_t k = 0;
    for (d = 0; d < 4; ++d) lim[d] = p->reduce[d] ? 1 : p->in_shape[d];
    for (o[0] = 0; o[0] < lim[0]; ++o[0])
        for (o[1] = 0; o[1] < lim[1]; ++o[1])
            for (o[2] = 0; o[2] < lim[2]; ++o[2])
                for (o[3] = 0; o[3] < lim[3]; ++o[3], ++k) {
                    int32_t sum = 0, value;
                    for (r[0] = 0; r[0] < (p->reduce[0] ? p->in_shape[0] : 1); ++r[0])
                        for (r[1] = 0; r[1] < (p->reduce[1] ? p->in_shape[1] : 1); ++r[1])
                            for (r[2] = 0; r[2] < (p->reduce[2] ? p->in_shape[2] : 1); ++r[2])
                                for (r[3] = 0; r[3] < (p->reduce[3] ? p->in_shape[3] : 1); ++r[3]) {
                                    size_t src = 0;
                                    for (d = 0; d < 4; ++d) src = src * (size_t)p->in_shape[d] + (size_t)(o[d] + r[d]);
                                    sum += in[src];
                                }
                    value = drsn_mbqm(sum - p->input_zero_point * p->count, p->multiplier, p->shift);
                    out[k] = (int8_t)clamp32(value + p->output_zero_point, INT8_MIN, INT8_MAX);
                }
}

void drsn_fully_connected(const drsn_fc_params *p, const int8_t *in, int8_t *out)
{
    int32_t b, u, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (size_t)b * p->depth;
        for (u = 0; u < p->units; ++u) {
            const int8_t *w = p->weights + (size_t)u * p->depth;
            const double scale = p->scales[p->per_channel ? u : 0];
            int32_t acc = 0, value;
            for (d = 0; d < p->depth; ++d) acc += ((int32_t)w[d] + p->weights_offset) * ((int32_t)x[d] + p->input_offset);
            if (p->bias != NULL) acc += p->bias[u];
            value = (int32_t)round((double)acc * scale) + p->output_offset;
            out[(size_t)b * p->units + u] = (int8_t)clamp32(value, p->act_min, p->act_max);
        }
    }
}

void drsn_lookup(const drsn_lut_params *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = p->table[(uint8_t)in[i]];
}

/* numpy's pairwise_sum (PW_BLOCKSIZE 128, 8 accumulators) of (x[i] - center)^power in double */
double drsn_pairwise_sum(const float *x, int32_t n, double center, int power)
{
    int32_t i, j;
    if (n < 8) {
        double res = 0.0;
        for (i = 0; i < n; ++i) {
            const double v = (double)x[i] - center;
            res += power == 2 ? v * v : v;
        }
        return res;
    }
    if (n <= 128) {
        double r[8], res;
        for (j = 0; j < 8; ++j) {
            const double v = (double)x[j] - center;
            r[j] = power == 2 ? v * v : v;
        }
        for (i = 8; i < n - (n % 8); i += 8) {
            for (j = 0; j < 8; ++j) {
                const double v = (double)x[i + j] - center;
                r[j] += power == 2 ? v * v : v;
            }
        }
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) {
            const double v = (double)x[i] - center;
            res += power == 2 ? v * v : v;
        }
        return res;
    } else {
        int32_t n2 = n / 2;
        n2 -= n2 % 8;
        return drsn_pairwise_sum(x, n2, center, power) + drsn_pairwise_sum(x + n2, n - n2, center, power);
    }
}

int8_t drsn_quantize(float x, float scale, int32_t zero_point)
{
    float q = rintf(x / scale) + (float)zero_point;
    if (!(q >= (float)INT8_MIN)) q = (float)INT8_MIN; /* also catches NaN */
    if (q > (float)INT8_MAX) q = (float)INT8_MAX;
    return (int8_t)q;
}
