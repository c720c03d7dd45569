/* drsn_stream.h: samples in (from any interrupt), windows out (in the main loop).
 *
 * A single-producer single-consumer ring of float samples. The producer is whatever delivers
 * samples: the UART line parser of the monitor firmware, or on a real sensor an ADC/DMA
 * interrupt, for example (STM32 HAL, half/full transfer callbacks of a circular DMA buffer):
 *
 *     static int16_t dma_buf[2 * 256];
 *     static void convert_and_push(const int16_t *raw, int n) {
 *         float g[256];
 *         for (int i = 0; i < n; i++) g[i] = raw[i] * COUNTS_TO_G;
 *         drsn_stream_push(g, n);
 *     }
 *     void HAL_ADC_ConvHalfCpltCallback(ADC_HandleTypeDef *h) { convert_and_push(dma_buf, 256); }
 *     void HAL_ADC_ConvCpltCallback(ADC_HandleTypeDef *h) { convert_and_push(dma_buf + 256, 256); }
 *
 * The consumer (the main loop) takes a window of DRSN_WINDOW_LENGTH samples every `hop`
 * samples with drsn_stream_window(). NaN/Inf samples are dropped and counted (as the Pi runner
 * drops them); samples that find the ring full (arriving faster than inference) are dropped and
 * counted as overruns. Nothing blocks and nothing resets. */
#ifndef DRSN_STREAM_H
#define DRSN_STREAM_H

#include <stdint.h>

#include "drsn_model.h"

#ifndef DRSN_STREAM_CAPACITY
#define DRSN_STREAM_CAPACITY (2 * DRSN_WINDOW_LENGTH) /* samples; a window plus one hop of slack */
#endif

typedef struct {
    uint32_t accepted;   /* samples that went into the ring */
    uint32_t non_finite; /* NaN/Inf samples dropped */
    uint32_t overruns;   /* samples dropped because the ring was full */
} drsn_stream_counts;

/* Empty the ring, zero the counters and take windows every `hop` samples (hop >= 1). */
void drsn_stream_reset(uint32_t hop);
/* Producer side (interrupt-safe with one producer): add n samples. */
void drsn_stream_push(const float *samples, uint32_t n);
/* Consumer side: if a whole window is waiting, copy it to `window`, set *start to the stream index
 * of its first sample, advance by the hop and return 1; else return 0. */
int drsn_stream_window(float window[DRSN_WINDOW_LENGTH], uint32_t *start);
/* Consumer side: whether drsn_stream_window() would return a window now (nothing consumed). */
int drsn_stream_ready(void);
drsn_stream_counts drsn_stream_counts_now(void);

#endif
