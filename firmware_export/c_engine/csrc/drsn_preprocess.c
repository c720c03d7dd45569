/* drsn_preprocess.c: a raw float window -> the int8 network input (see drsn_preprocess.h). */
#include "drsn_preprocess.h"

#include <float.h>
#include <math.h>

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

int drsn_preprocess(const drsn_preprocessing *p, const float *window, int8_t *input)
{
    const int32_t n = p->window_length;
    double center = 0.0, denom = 1.0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        if (!isfinite(window[i])) return -1;
    }
    if (p->normalisation == DRSN_NORM_WINDOW) {
        center = drsn_pairwise_sum(window, n, 0.0, 1) / (double)n;
        denom = sqrt(drsn_pairwise_sum(window, n, center, 2) / (double)n) + p->eps;
    } else if (p->normalisation == DRSN_NORM_GLOBAL) {
        center = p->mean;
        denom = p->std;
    }
    if (!isfinite(center) || !isfinite(denom) || !(denom > 0.0)) return -1; /* would not be finite after it */
    for (i = 0; i < n; ++i) {
        double z = ((double)window[i] - center) / denom;
        /* numpy's float64 -> float32 cast gives inf from FLT_MAX + half an ulp (2^103) on, and Python and the
         * Pi runner refuse such a window (a global std far below the samples' size): so does the engine */
        if (!(fabs(z) < (double)FLT_MAX + 0x1p103)) return -1;
        if (z > FLT_MAX) z = FLT_MAX; /* below the half ulp the cast rounds to FLT_MAX; (float)z would be UB */
        if (z < -FLT_MAX) z = -FLT_MAX;
        input[i] = drsn_quantize((float)z, p->input_scale, p->input_zero_point);
    }
    return 0;
}
