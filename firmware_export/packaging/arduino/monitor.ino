// drsn-edge condition monitor: an accelerometer on an analog pin, sampled at the model's rate into the ring
// buffer; every hop a window is classified, smoothed over 3 windows, and an alarm is raised after 2 fault
// windows in a row. One JSON line per window goes to Serial, with the Pi runner's fields.
//
// Here loop() samples between inferences, which is enough to try it: samples that would arrive during an
// inference are not taken. For a continuous stream call drsn_stream_push() from a timer or ADC/DMA
// interrupt instead (drsn_stream.h shows one); the ring then counts the samples it had no room for.
#include <drsn_edge.h>

const int SENSOR_PIN = A0;
const float COUNTS_TO_G = 1.0f / 1024.0f; // your sensor's scale: ADC counts -> g
const uint32_t HOP = DRSN_WINDOW_LENGTH / 2;
const uint32_t SMOOTH = 3, ALERT_AFTER = 2, CLEAR_AFTER = 1;

static float window_samples[DRSN_WINDOW_LENGTH];
static drsn_decider decider;
static uint32_t windows;
static unsigned long next_sample_us;

static void print_line(uint32_t start, int k, int32_t smoothed, int32_t alert)
{
    Serial.print("{\"time\": ");
    Serial.print((double)(start + DRSN_WINDOW_LENGTH) / DRSN_SAMPLE_RATE, 6);
    Serial.print(", \"window\": ");
    Serial.print(windows);
    Serial.print(", \"class\": \"");
    Serial.print(drsn_class_names[k]);
    Serial.print("\", \"smoothed\": \"");
    Serial.print(drsn_class_names[smoothed]);
    Serial.print("\", \"alert\": ");
    if (alert >= 0) {
        Serial.print("\"");
        Serial.print(drsn_class_names[alert]);
        Serial.println("\"}");
    } else {
        Serial.println("null}");
    }
}

void setup()
{
    Serial.begin(115200);
    drsn_stream_reset(HOP);
    drsn_decide_reset(&decider, SMOOTH, ALERT_AFTER, CLEAR_AFTER, DRSN_NORMAL_CLASS);
    next_sample_us = micros();
}

void loop()
{
    if ((long)(micros() - next_sample_us) >= 0) {
        next_sample_us += (unsigned long)(1e6 / DRSN_SAMPLE_RATE);
        float g = analogRead(SENSOR_PIN) * COUNTS_TO_G;
        drsn_stream_push(&g, 1);
    }
    uint32_t start;
    if (drsn_stream_window(window_samples, &start)) {
        int8_t logits[DRSN_NUM_CLASSES];
        int k = drsn_classify(window_samples, logits);
        int32_t alert;
        int onset;
        int32_t smoothed = drsn_decide(&decider, k, &alert, &onset);
        print_line(start, k, smoothed, alert);
        windows++;
        next_sample_us = micros(); // the inference took its time: sample on from now
    }
}
