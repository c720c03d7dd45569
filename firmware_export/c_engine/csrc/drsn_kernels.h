/* drsn_kernels.h: the int8 kernels of the drsn-edge C engine, their parameters and calls.
 *
 * Each kernel mirrors the TensorFlow Lite reference kernel (LiteRT's
 * BUILTIN_REF op resolver) bit for bit, including its rounding. Shapes are
 * 4-D NHWC with batch 1 (lower ranks are padded with leading 1s by the
 * generator); all parameters are precomputed at export time.
 * No allocation, no globals: callers pass every buffer.
 *
 * One source file per op family: drsn_conv.c, drsn_fully_connected.c,
 * drsn_elementwise.c (ADD, SUB, MUL, ABS), drsn_reduce.c (MEAN),
 * drsn_pooling.c (MAX_POOL_2D, PAD), drsn_lookup.c (LOGISTIC's table), drsn_fused.c (fused chains);
 * their shared arithmetic is drsn_fixedpoint.h, the preprocessing drsn_preprocess.h.
 */
#ifndef DRSN_KERNELS_H
#define DRSN_KERNELS_H

#include <stdint.h>

typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, filter_in_c;      /* filter_in_c < in_c for grouped convolutions */
    int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t input_offset, output_offset, act_min, act_max;
    int32_t smmulr_safe;                /* 1: every accumulator, shifted left by its channel's shift, < 2^30;
                                           2: also drsn_requant exact (right shifts only, clamp up to 127) */
    const int8_t *weights;              /* [out_c][k_h][k_w][filter_in_c], then 3 zero bytes */
    const int32_t *folded_bias;         /* [out_c]: bias + input_offset * sum of the channel's weights */
    const int32_t *multiplier;          /* [out_c] */
    const int32_t *shift;               /* [out_c] */
} drsn_conv_params;

typedef struct {
    int32_t in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w, act_min, act_max;
} drsn_pool_params;

typedef struct {
    int32_t in_shape[4], before[4], out_shape[4];
    int32_t value;                      /* the output zero point */
} drsn_pad_params;

/* ADD, SUB, MUL with numpy-style broadcasting: an input stride of 0 repeats it along that axis. */
typedef struct {
    int32_t out_shape[4];
    int32_t in1_strides[4], in2_strides[4];
    int32_t in1_size, in2_size;         /* elements of each input */
    int32_t in1_offset, in2_offset, out_offset;
    int32_t left_shift, in1_multiplier, in1_shift, in2_multiplier, in2_shift;
    int32_t out_multiplier, out_shift, act_min, act_max;
    int32_t out_exponent, out_round;    /* ADD/SUB: drsn_requant's, proven exact at export; 0: not proven */
} drsn_binary_params;

typedef struct {
    int32_t size, input_zero_point, output_zero_point, needs_rescale, multiplier, shift;
} drsn_abs_params;

typedef struct {
    int32_t in_shape[4], reduce[4];     /* reduce[d] != 0: axis d is averaged away */
    int32_t count, input_zero_point, output_zero_point, multiplier, shift;
} drsn_mean_params;

typedef struct {
    int32_t batches, depth, units;
    int32_t input_offset, weights_offset, output_offset, act_min, act_max;
    int32_t per_channel;                /* scales has units entries, else one */
    const int8_t *weights;              /* [units][depth] */
    const int32_t *bias;                /* [units] or NULL */
    const double *scales;               /* input_scale * filter_scale / output_scale, in double */
} drsn_fc_params;

typedef struct {
    int32_t size;
    const int8_t *table;                /* 256 entries, indexed by (uint8_t)input */
} drsn_lut_params;

/* Fused element-wise chains (drsn_fused.c): one pass computing per element exactly the integers the
 * unfused ops would, without their intermediate tensors. Fields named *_exponent / *_round feed
 * drsn_requant (drsn_fixedpoint.h), proven valid for the op at export time; the clamps' upper bound is 127. */

/* the shrinkage unit's soft threshold: SUB(SUB(x, tau) RELU, MUL(ADD(x, tau), k) RELU), tau per channel */
typedef struct {
    int32_t pixels, channels, tau_step;             /* tau_step 0: one tau for every channel */
    int32_t x_offset, x_multiplier, x_shift;        /* rescale of x, first input of ADD and SUB */
    int32_t tau_offset, tau_multiplier, tau_shift;  /* rescale of tau, their second input */
    int32_t sum_multiplier, sum_exponent, sum_round, sum_min;      /* ADD's output */
    int32_t diff_multiplier, diff_exponent, diff_round, diff_min;  /* SUB's output */
    int32_t neg_offset, neg_factor, neg_multiplier, neg_shift, neg_zero_point, neg_min, neg_max; /* MUL */
    int32_t pos_offset, pos_multiplier, pos_shift;  /* rescale of SUB's output, first input of the last SUB */
    int32_t negr_offset, negr_multiplier, negr_shift;  /* rescale of MUL's output, its second input */
    int32_t out_multiplier, out_exponent, out_round, out_min;      /* the last SUB's output */
} drsn_shrink_params;

/* batch normalisation as TFLite leaves it: ADD(MUL(x, scale), bias), scale and bias constant per channel */
typedef struct {
    int32_t pixels, channels, param_step;           /* param_step 0: one scale and bias for every channel */
    int32_t x_offset, mul_multiplier, mul_exponent, mul_round, mul_min;  /* MUL's output */
    int32_t m_offset, m_multiplier, m_shift;        /* rescale of MUL's output, the ADD's input */
    int32_t out_multiplier, out_exponent, out_round, out_min;          /* ADD's output */
    const int32_t *scale;                           /* [channels]: the MUL's constant plus its offset */
    const int32_t *bias;                            /* [channels]: the ADD's constant, rescaled */
} drsn_affine_params;

/* MEAN over every axis but the channels of ABS(x) */
typedef struct {
    int32_t pixels, channels;
    drsn_abs_params abs;                            /* size: 256, the table of every int8 value */
    int32_t count, input_zero_point, output_zero_point, multiplier, shift;  /* the MEAN's */
} drsn_abs_mean_params;

void drsn_conv2d(const drsn_conv_params *p, const int8_t *in, int8_t *out);
void drsn_max_pool2d(const drsn_pool_params *p, const int8_t *in, int8_t *out);
void drsn_pad(const drsn_pad_params *p, const int8_t *in, int8_t *out);
void drsn_add(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void drsn_sub(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void drsn_mul(const drsn_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void drsn_abs(const drsn_abs_params *p, const int8_t *in, int8_t *out);
void drsn_mean(const drsn_mean_params *p, const int8_t *in, int8_t *out);
void drsn_fully_connected(const drsn_fc_params *p, const int8_t *in, int8_t *out);
void drsn_lookup(const drsn_lut_params *p, const int8_t *in, int8_t *out);
void drsn_shrink(const drsn_shrink_params *p, const int8_t *x, const int8_t *tau, int8_t *out);
void drsn_affine(const drsn_affine_params *p, const int8_t *x, int8_t *out);
void drsn_abs_mean(const drsn_abs_mean_params *p, const int8_t *x, int8_t *out);

#endif
