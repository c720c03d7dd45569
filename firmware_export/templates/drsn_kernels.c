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

/* static inline copies so the per-element calls inline; the drsn_* functions export them */
static inline int32_t srdhm(int32_t a, int32_t b)
{
    const int overflow = (a == b) && (a == INT32_MIN);
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    const int32_t high = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    return overflow ? INT32_MAX : high;
}

static inline int32_t rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    /* x * (1 << left) wraps like TFLite's (it is only large for multipliers far above 1) */
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return rdbpot(srdhm(shifted, multiplier), right);
}

static inline int32_t mbqm_lt1(int32_t x, int32_t multiplier, int shift)
{
    return rdbpot(srdhm(x, multiplier), -shift);
}

int32_t drsn_srdhm(int32_t a, int32_t b) { return srdhm(a, b); }
int32_t drsn_rdbpot(int32_t x, int exponent) { return rdbpot(x, exponent); }
int32_t drsn_mbqm(int32_t x, int32_t multiplier, int shift) { return mbqm(x, multiplier, shift); }
int32_t drsn_mbqm_smaller_than_one(int32_t x, int32_t multiplier, int shift) { return mbqm_lt1(x, multiplier, shift); }

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
    acc = mbqm(acc + p->folded_bias[oc], p->multiplier[oc], p->shift[oc]) + p->output_offset;
    return (int8_t)clamp32(acc, p->act_min, p->act_max);
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

/* ADD/SUB rescale each input on its own, so the 256 possible int8 values are rescaled once per call */
static void rescale_table(int32_t table[256], int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift)
{
    int32_t v;
    for (v = INT8_MIN; v <= INT8_MAX; ++v)
        table[(uint8_t)v] = mbqm_lt1((v + offset) * (1 << left_shift), multiplier, shift);
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
                        out[i3] = (int8_t)clamp32(mbqm(prod, p->out_multiplier, p->out_shift) + p->out_offset,
                                                  p->act_min, p->act_max);
                    }
                } else if (kind == DRSN_ADD) {
                    for (i3 = 0; i3 < n3; ++i3) {
                        const int32_t raw = ta[(uint8_t)ra[i3 * sa]] + tb[(uint8_t)rb[i3 * sb]];
                        out[i3] = (int8_t)clamp32(mbqm_lt1(raw, p->out_multiplier, p->out_shift) + p->out_offset,
                                                  p->act_min, p->act_max);
                    }
                } else {
                    for (i3 = 0; i3 < n3; ++i3) {
                        const int32_t raw = ta[(uint8_t)ra[i3 * sa]] - tb[(uint8_t)rb[i3 * sb]];
                        out[i3] = (int8_t)clamp32(mbqm_lt1(raw, p->out_multiplier, p->out_shift) + p->out_offset,
                                                  p->act_min, p->act_max);
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
        const int32_t r = p->needs_rescale ? mbqm(v, p->multiplier, p->shift) : v;
        out[i] = (int8_t)clamp32(r + p->output_zero_point, INT8_MIN, INT8_MAX);
    }
}

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
                    value = mbqm(sum - p->input_zero_point * p->count, p->multiplier, p->shift);
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
            for (d = 0; d < p->depth; ++d)
                acc += ((int32_t)w[d] + p->weights_offset) * ((int32_t)x[d] + p->input_offset);
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
