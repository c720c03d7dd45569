/* drsn_preprocess.h: a raw window (float or int16 samples) -> the int8 network input.
 *
 * The one C implementation of drsn_edge.int8_input (the integer definition of the int8
 * input), used by the C engine (drsn_model.c), the TFLite Micro export (drsn_inference.cc)
 * and the monitor firmware, so every drsn-edge int8 runtime feeds the network the same bytes.
 * DRSN_NORM_WINDOW runs in integers only (int64 sums, an integer square root, one 64-bit
 * multiply per sample): no double, no float arithmetic. DRSN_NORM_GLOBAL and DRSN_NORM_NONE
 * keep the float definition (double, round half to even).
 */
#ifndef DRSN_PREPROCESS_H
#define DRSN_PREPROCESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DRSN_NORM_NONE 0   /* x */
#define DRSN_NORM_WINDOW 1 /* (x - mean(x)) / (std(x) + eps) per window (population std), in integers */
#define DRSN_NORM_GLOBAL 2 /* (x - mean) / std */

typedef struct {
    int32_t window_length;
    int32_t normalisation;    /* DRSN_NORM_* */
    double mean, std;         /* DRSN_NORM_GLOBAL */
    float input_scale;        /* the int8 input tensor's quantisation */
    int32_t input_zero_point;
    /* DRSN_NORM_WINDOW: 1 / input_scale and eps as m * 2^e, m in [2^30, 2^31) (drsn_edge.int8_input) */
    int32_t inv_scale_m, inv_scale_e, eps_m, eps_e;
} drsn_preprocessing;

/* Normalises and quantises p->window_length float samples of window into input; returns 0, or -1 (input not
 * usable) when the window holds NaN or Inf or, under DRSN_NORM_GLOBAL, a normalised sample is beyond float's
 * range (as numpy's cast makes it inf: Python refuses that window too). */
int drsn_preprocess(const drsn_preprocessing *p, const float *window, int8_t *input);

/* The same for int16 samples (an ADC's): equal, byte for byte, to drsn_preprocess of the samples
 * converted to float; 0, or -1 as drsn_preprocess. */
int drsn_preprocess_i16(const drsn_preprocessing *p, const int16_t *samples, int8_t *input);

/* round(x / scale) + zero_point, round half to even, clamped to int8 (numpy's quantize_input) */
int8_t drsn_quantize(float x, float scale, int32_t zero_point);

#ifdef __cplusplus
}
#endif

#endif
