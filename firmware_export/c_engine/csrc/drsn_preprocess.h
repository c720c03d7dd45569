/* drsn_preprocess.h: a raw float window -> the int8 network input, exactly as the Python pipeline does it.
 *
 * The one C implementation of drsn_edge.preprocess.Preprocessing plus TFLite's
 * input quantisation, used by the C engine (drsn_model.c) and by the TFLite
 * Micro export (drsn_inference.cc), so every drsn-edge runtime feeds the
 * network the same int8 input. The normalisation runs in double with numpy's
 * pairwise sums; on a single-precision FPU it runs in software, once per window.
 */
#ifndef DRSN_PREPROCESS_H
#define DRSN_PREPROCESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DRSN_NORM_NONE 0   /* x */
#define DRSN_NORM_WINDOW 1 /* (x - mean(x)) / (std(x) + eps) per window (population std) */
#define DRSN_NORM_GLOBAL 2 /* (x - mean) / std */

typedef struct {
    int32_t window_length;
    int32_t normalisation;    /* DRSN_NORM_* */
    double mean, std, eps;    /* mean and std for DRSN_NORM_GLOBAL, eps for DRSN_NORM_WINDOW */
    float input_scale;        /* the int8 input tensor's quantisation */
    int32_t input_zero_point;
} drsn_preprocessing;

/* Normalises and quantises p->window_length samples of window into input; returns 0, or -1 (input not
 * usable) when the window holds NaN or Inf or a normalised sample is beyond float's range (as numpy's cast
 * makes it inf: Python refuses that window too). */
int drsn_preprocess(const drsn_preprocessing *p, const float *window, int8_t *input);

/* numpy's pairwise summation of (x[i] - center)^power for power 1 or 2, in double */
double drsn_pairwise_sum(const float *x, int32_t n, double center, int power);
/* round(x / scale) + zero_point, round half to even, clamped to int8 (numpy's quantize_input) */
int8_t drsn_quantize(float x, float scale, int32_t zero_point);

#ifdef __cplusplus
}
#endif

#endif
