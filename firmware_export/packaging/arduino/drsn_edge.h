/* drsn_edge.h: the drsn-edge engine for Arduino sketches (C++), whose sources are C: one include for all of it.
 *
 *   drsn_classify(window, logits)   one window of DRSN_WINDOW_LENGTH float samples -> class index
 *   drsn_stream_push(samples, n)    samples in, from loop() or an ADC/timer interrupt (ring buffer)
 *   drsn_stream_window(window, &s)  a window every hop, when one is complete
 *   drsn_decide(&d, k, &alert, &on) smoothing over K windows and the alarm with hysteresis
 * DRSN_SAMPLE_RATE, DRSN_NORMAL_CLASS and drsn_class_names[] describe the model. */
#ifndef DRSN_EDGE_H
#define DRSN_EDGE_H

#ifdef __cplusplus
extern "C" {
#endif

#include "drsn_decide.h"
#include "drsn_model.h"
#include "drsn_monitor_config.h"
#include "drsn_stream.h"

#ifdef __cplusplus
}
#endif

#endif
