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
 * drsn_pooling.c (MAX_POOL_2D, PAD), drsn_lookup.c (LOGISTIC's table);
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
    int32_t smmulr_safe;                /* every accumulator, shifted left by its channel's shift, < 2^30 */
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

#endif
