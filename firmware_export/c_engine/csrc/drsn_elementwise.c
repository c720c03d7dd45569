/* drsn_elementwise.c: ADD, SUB, MUL with broadcasting, and ABS (int8), as TFLite's reference kernels.
 *
 * ADD/SUB rescale both inputs after a left shift of 20 (the multipliers are
 * smaller than one); MUL requantises the product; ABS rescales when its
 * input and output scales differ.
 */
#include "drsn_fixedpoint.h"
#include "drsn_kernels.h"

static inline int32_t rescale(int32_t v, int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift)
{
    const int32_t x = (v + offset) * (1 << left_shift);
    /* |v + offset| <= 255 (zero points are int8), so below 2^29 at the reference's left shift of 20:
     * drsn_high is then SRDHM's integer */
    return left_shift <= 20 ? drsn_rdbpot(drsn_high(x, multiplier), -shift)
                            : drsn_mbqm_smaller_than_one(x, multiplier, shift);
}

/* ADD/SUB rescale each input on its own, so each int8 value is rescaled once per call: all 256 of them,
 * or for an input of fewer elements (a per-channel threshold) just the values it holds */
static void rescale_table(int32_t table[256], const int8_t *in, int32_t size, int32_t offset, int32_t left_shift,
                          int32_t multiplier, int32_t shift)
{
    int32_t i;
    if (size < 256) {
        for (i = 0; i < size; ++i) table[(uint8_t)in[i]] = rescale(in[i], offset, left_shift, multiplier, shift);
        return;
    }
    for (i = INT8_MIN; i <= INT8_MAX; ++i) table[(uint8_t)i] = rescale(i, offset, left_shift, multiplier, shift);
}

enum { DRSN_ADD, DRSN_SUB, DRSN_MUL };

/* the per-call values in registers: stores through int8_t pointers may alias anything, so a value read
 * through p inside a loop would be loaded again after every store */
typedef struct {
    int32_t in1_offset, in2_offset, out_offset, multiplier, shift, lo, hi, exponent, round;
} binary_values;

/* one inner loop per kind: the innermost axis carries almost all the work */
static void mul_row(const binary_values *v, const int8_t *a, int32_t sa, const int8_t *b, int32_t sb, int8_t *out,
                    int32_t n)
{
    const int32_t in1_offset = v->in1_offset, in2_offset = v->in2_offset, out_offset = v->out_offset;
    const int32_t multiplier = v->multiplier, shift = v->shift, lo = v->lo, hi = v->hi;
    int32_t i;
    for (i = 0; i < n; ++i, a += sa, b += sb) {
        const int32_t prod = ((int32_t)*a + in1_offset) * ((int32_t)*b + in2_offset);
        out[i] = (int8_t)drsn_clamp(drsn_mbqm(prod, multiplier, shift) + out_offset, lo, hi);
    }
}

static inline void add_row(const binary_values *v, const int32_t *ta, const int8_t *a, int32_t sa,
                           const int32_t *tb, const int8_t *b, int32_t sb, int8_t *out, int32_t n, int32_t sign)
{
    const int32_t out_offset = v->out_offset, multiplier = v->multiplier, shift = v->shift, lo = v->lo, hi = v->hi;
    int32_t i;
    const int32_t exponent = v->exponent, round = v->round;
    if (exponent > 0 && hi == INT8_MAX) {
        for (i = 0; i < n; ++i, a += sa, b += sb)
            out[i] = (int8_t)drsn_clamp_hi127(drsn_requant(ta[(uint8_t)*a] + sign * tb[(uint8_t)*b], multiplier,
                                                           exponent, round), lo);
        return;
    }
    for (i = 0; i < n; ++i, a += sa, b += sb) {
        const int32_t raw = ta[(uint8_t)*a] + sign * tb[(uint8_t)*b];
        out[i] = (int8_t)drsn_clamp(drsn_mbqm_smaller_than_one(raw, multiplier, shift) + out_offset, lo, hi);
    }
}

/* every int8 value once, in the order of its uint8_t bit pattern: the input of a 256-entry table */
static void all_values(int8_t values[256])
{
    int32_t i;
    for (i = 0; i < 256; ++i) values[i] = (int8_t)(uint8_t)i;
}

/* out[i] = table[in[i]]: the op computed once per possible input value, then looked up */
static void look_up(const int8_t table[256], const int8_t *in, int8_t *out, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) out[i] = table[(uint8_t)in[i]];
}

static void broadcast(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out, int kind);

/* a long contiguous first input against a single second value (x * -1, x + c): the output depends on
 * the first input's value alone, so the op runs on the 256 values and the tensor is looked up;
 * true when handled */
static int scalar_operand(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out, int kind)
{
    int8_t values[256], table[256];
    drsn_binary_params one = *p;
    if (p->out_shape[0] != 1 || p->out_shape[1] != 1 || p->out_shape[2] != 1 || p->out_shape[3] <= 512 ||
        p->in1_strides[3] != 1 || p->in2_strides[3] != 0)
        return 0;
    one.out_shape[3] = 256;
    all_values(values);
    broadcast(&one, values, b, table, kind);
    look_up(table, a, out, p->out_shape[3]);
    return 1;
}

static void broadcast(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out, int kind)
{
    int32_t ta[256], tb[256];
    int32_t i0, i1, i2;
    const int32_t n3 = p->out_shape[3], sa = p->in1_strides[3], sb = p->in2_strides[3];
    const int32_t n2 = p->out_shape[2], sa2 = p->in1_strides[2], sb2 = p->in2_strides[2];
    const binary_values v = {p->in1_offset, p->in2_offset, p->out_offset, p->out_multiplier, p->out_shift,
                             p->act_min, p->act_max, p->out_exponent, p->out_round};
    if (kind != DRSN_MUL) {
        rescale_table(ta, a, p->in1_size, p->in1_offset, p->left_shift, p->in1_multiplier, p->in1_shift);
        rescale_table(tb, b, p->in2_size, p->in2_offset, p->left_shift, p->in2_multiplier, p->in2_shift);
    }
    for (i0 = 0; i0 < p->out_shape[0]; ++i0)
        for (i1 = 0; i1 < p->out_shape[1]; ++i1) {
            const int8_t *ra = a + i0 * p->in1_strides[0] + i1 * p->in1_strides[1];
            const int8_t *rb = b + i0 * p->in2_strides[0] + i1 * p->in2_strides[1];
            for (i2 = 0; i2 < n2; ++i2, out += n3, ra += sa2, rb += sb2) {
                if (kind == DRSN_MUL) mul_row(&v, ra, sa, rb, sb, out, n3);
                /* contiguous rows with constant strides and sign: the loop needs fewer registers */
                else if (sa == 1 && sb == 1 && kind == DRSN_ADD) add_row(&v, ta, ra, 1, tb, rb, 1, out, n3, 1);
                else if (sa == 1 && sb == 1) add_row(&v, ta, ra, 1, tb, rb, 1, out, n3, -1);
                else add_row(&v, ta, ra, sa, tb, rb, sb, out, n3, kind == DRSN_ADD ? 1 : -1);
            }
        }
}

void drsn_add(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (!scalar_operand(p, a, b, out, DRSN_ADD)) broadcast(p, a, b, out, DRSN_ADD);
}

void drsn_sub(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (!scalar_operand(p, a, b, out, DRSN_SUB)) broadcast(p, a, b, out, DRSN_SUB);
}

void drsn_mul(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (!scalar_operand(p, a, b, out, DRSN_MUL)) broadcast(p, a, b, out, DRSN_MUL);
}

static void abs_values(const drsn_abs_params *p, const int8_t *in, int8_t *out, int32_t size)
{
    const int32_t in_zero = p->input_zero_point, out_zero = p->output_zero_point;
    const int32_t rescale = p->needs_rescale, multiplier = p->multiplier, shift = p->shift;
    int32_t i;
    for (i = 0; i < size; ++i) {
        const int32_t d = (int32_t)in[i] - in_zero;
        const int32_t v = d < 0 ? -d : d;
        const int32_t r = rescale ? drsn_mbqm(v, multiplier, shift) : v;
        out[i] = (int8_t)drsn_clamp(r + out_zero, INT8_MIN, INT8_MAX);
    }
}

/* long inputs: ABS of the 256 values once, then a table look-up per element */
void drsn_abs(const drsn_abs_params *p, const int8_t *in, int8_t *out)
{
    int8_t values[256], table[256];
    if (p->size <= 512) {
        abs_values(p, in, out, p->size);
        return;
    }
    all_values(values);
    abs_values(p, values, table, 256);
    look_up(table, in, out, p->size);
}
