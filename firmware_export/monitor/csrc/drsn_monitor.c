/* drsn_monitor.c: the monitoring firmware's main, the same on every board.
 *
 * Samples arrive over the UART as text, one value per line (the Pi runner's text format), and are
 * parsed in the receive interrupt and pushed with drsn_stream_push(), the entry point an ADC/DMA
 * interrupt uses on a real sensor (drsn_stream.h). Every hop the main loop classifies a window and
 * writes one JSON line with the Pi runner's fields (drsn_runner_lib/output.py): time, window,
 * class, confidence, latency_ms, score (and best, for an "unknown" window) when convert calibrated an
 * unknown threshold, then smoothed/alert (when on) and raw; plus "ticks", the board
 * timer's count for the inference. Lines starting with '!' are commands:
 *   !hello                  -> {"hello": "drsn-edge-monitor", board, model, timer, ...}
 *   !status                 -> {"status": {samples, windows, bad_lines, non_finite, overruns, ...}}
 *   !set hop=N smooth=K alert=N clear=M normal=I raw=0|1   (restarts the stream) -> {"config": {...}}
 *   !bin N                  the next 4*N bytes are N samples, little-endian IEEE float32 (no answer): 2.7x
 *                           fewer bytes than text and no parsing; validate-device uses it (hello's "binary")
 * Garbage lines, NaN/Inf samples, overlong lines, ring overruns and UART errors are counted and
 * reported by !status; nothing blocks, nothing resets. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "drsn_board.h"
#include "drsn_decide.h"
#include "drsn_json.h"
#include "drsn_monitor_config.h"
#include "drsn_stream.h"
#if defined(DRSN_UNKNOWN_ON) && DRSN_UNKNOWN_ON
#include "drsn_unknown.h"
#else
#undef DRSN_UNKNOWN_ON
#define DRSN_UNKNOWN_ON 0 /* a build without a calibrated threshold: every window is answered */
#endif

#define LINE_MAX 64
#define BINARY_MAX 65535u /* samples in one !bin block */

typedef struct {
    uint32_t hop, smooth, alert, clear, raw;
    int32_t normal;
} monitor_config;

static const monitor_config DEFAULTS = {DRSN_WINDOW_LENGTH, 1, 0, 1, 1, DRSN_NORMAL_CLASS};

/* receive side (interrupt) */
static char line[LINE_MAX];
static uint32_t line_length, line_overflow;
static volatile uint32_t bad_lines;
static volatile int want_hello, want_status, want_config;
static volatile monitor_config pending;
static uint32_t binary_left, binary_fill; /* samples still due in a !bin block, bytes of the current one */
static uint8_t binary_sample[4];

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int word_is(const char *s, const char *word)
{
    while (*word && lower(*s) == *word)
        s++, word++;
    return *word == '\0' && *s == '\0';
}

/* A decimal number as Python's float() reads it (sign, digits, point, exponent, nan, inf).
 * Values the host sends as exact float32 decimals come back exactly. Returns 0 on garbage. */
static int parse_number(const char *s, float *out)
{
    int negative = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (word_is(s, "nan")) {
        *out = NAN;
        return 1;
    }
    if (word_is(s, "inf") || word_is(s, "infinity")) {
        *out = negative ? -INFINITY : INFINITY;
        return 1;
    }
    uint64_t mantissa = 0;
    int exponent = 0, digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (mantissa < 100000000000000000ull)
            mantissa = mantissa * 10 + (uint64_t)(*s - '0');
        else
            exponent++;
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
            if (mantissa < 100000000000000000ull) {
                mantissa = mantissa * 10 + (uint64_t)(*s - '0');
                exponent--;
            }
        }
    }
    if (digits == 0)
        return 0;
    if (*s == 'e' || *s == 'E') {
        int sign = 1, e = 0, edigits = 0;
        s++;
        if (*s == '-' || *s == '+')
            sign = *s++ == '-' ? -1 : 1;
        for (; *s >= '0' && *s <= '9'; s++, edigits++)
            e = e < 10000 ? e * 10 + (*s - '0') : e;
        if (edigits == 0)
            return 0;
        exponent += sign * e;
    }
    if (*s != '\0')
        return 0;
    double value = (double)mantissa;
    double power = pow(10.0, exponent < 0 ? -exponent : exponent);
    value = exponent < 0 ? value / power : value * power;
    *out = (float)(negative ? -value : value);
    return 1;
}

static void parse_settings(char *s)
{
    monitor_config c = DEFAULTS;
    while (*s) {
        while (*s == ' ')
            s++;
        char *key = s;
        while (*s && *s != '=' && *s != ' ')
            s++;
        if (*s != '=')
            break;
        *s++ = '\0';
        uint32_t value = 0;
        while (*s >= '0' && *s <= '9')
            value = value * 10 + (uint32_t)(*s++ - '0');
        if (word_is(key, "hop")) c.hop = value ? value : 1;
        else if (word_is(key, "smooth")) c.smooth = value;
        else if (word_is(key, "alert")) c.alert = value;
        else if (word_is(key, "clear")) c.clear = value;
        else if (word_is(key, "raw")) c.raw = value != 0;
        else if (word_is(key, "normal")) c.normal = value < DRSN_NUM_CLASSES ? (int32_t)value : -1;
    }
    pending = c;
    want_config = 1;
}

/* "!bin N": N (1..BINARY_MAX) float32 samples follow as raw bytes; anything else is a bad line. */
static void start_binary(const char *s)
{
    uint32_t n = 0;
    const char *digits = s;
    while (*s >= '0' && *s <= '9' && n <= BINARY_MAX)
        n = n * 10 + (uint32_t)(*s++ - '0');
    if (s == digits || *s != '\0' || n == 0 || n > BINARY_MAX) {
        bad_lines++;
        return;
    }
    binary_left = n;
    binary_fill = 0;
}

static void binary_byte(uint8_t byte)
{
    binary_sample[binary_fill++] = byte;
    if (binary_fill == sizeof binary_sample) {
        float sample;
        memcpy(&sample, binary_sample, sizeof sample); /* the Cortex-M is little-endian, as the block */
        drsn_stream_push(&sample, 1);                  /* NaN/Inf are dropped and counted there */
        binary_fill = 0;
        binary_left--;
    }
}

static void end_of_line(void)
{
    char *s = line, *end = line + line_length;
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = '\0';
    float sample;
    if (*s == '\0' || *s == '#')
        return; /* blank lines and comments, as the Pi runner */
    if (*s == '!') {
        if (word_is(s + 1, "hello")) want_hello = 1;
        else if (word_is(s + 1, "status")) want_status = 1;
        else if (lower(s[1]) == 's' && lower(s[2]) == 'e' && lower(s[3]) == 't' && (s[4] == ' ' || !s[4]))
            parse_settings(s + 4);
        else if (lower(s[1]) == 'b' && lower(s[2]) == 'i' && lower(s[3]) == 'n' && s[4] == ' ')
            start_binary(s + 5);
        else bad_lines++;
    } else if (parse_number(s, &sample)) {
        drsn_stream_push(&sample, 1);
    } else {
        bad_lines++;
    }
}

void drsn_uart_byte(uint8_t byte)
{
    if (binary_left) {
        binary_byte(byte);
    } else if (byte == '\n') {
        if (line_overflow)
            bad_lines++;
        else
            end_of_line();
        line_length = line_overflow = 0;
    } else if (line_length < LINE_MAX - 1) {
        line[line_length++] = (char)byte;
    } else {
        line_overflow = 1; /* an overlong line is garbage: counted at its end */
    }
}

/* main loop */
static const drsn_board_info *board;
static monitor_config config;
static drsn_decider decider;
static uint32_t windows;
static float window[DRSN_WINDOW_LENGTH];

static void send(drsn_json *j)
{
    drsn_json_end(j);
    drsn_board_write(j->text, j->length);
}

static void hello(void)
{
    drsn_json j;
    drsn_json_begin(&j);
    drsn_json_key(&j, "hello"), drsn_json_string(&j, "drsn-edge-monitor");
    drsn_json_key(&j, "protocol"), drsn_json_int(&j, 1);
    drsn_json_key(&j, "board"), drsn_json_string(&j, board->name);
    drsn_json_key(&j, "model"), drsn_json_string(&j, DRSN_MODEL_NAME);
    drsn_json_key(&j, "model_id"), drsn_json_string(&j, DRSN_MODEL_ID);
    drsn_json_key(&j, "window_length"), drsn_json_int(&j, DRSN_WINDOW_LENGTH);
    drsn_json_key(&j, "sample_rate"), drsn_json_fixed(&j, DRSN_SAMPLE_RATE, 3);
    drsn_json_key(&j, "timer"), drsn_json_string(&j, board->timer);
    drsn_json_key(&j, "tick_hz"), drsn_json_int(&j, board->tick_hz);
    drsn_json_key(&j, "core_hz"), drsn_json_int(&j, board->core_hz);
    drsn_json_key(&j, "emulated"), drsn_json_int(&j, board->emulated);
    drsn_json_key(&j, "stream_capacity"), drsn_json_int(&j, DRSN_STREAM_CAPACITY);
    drsn_json_key(&j, "binary"), drsn_json_int(&j, 1); /* understands !bin */
    send(&j);
}

static void status(void)
{
    drsn_stream_counts c = drsn_stream_counts_now();
    drsn_json j;
    drsn_json_begin(&j);
    drsn_json_key(&j, "status");
    drsn_json_open(&j, '{');
    drsn_json_key(&j, "samples"), drsn_json_int(&j, c.accepted);
    drsn_json_key(&j, "windows"), drsn_json_int(&j, windows);
    drsn_json_key(&j, "bad_lines"), drsn_json_int(&j, bad_lines);
    drsn_json_key(&j, "non_finite"), drsn_json_int(&j, c.non_finite);
    drsn_json_key(&j, "overruns"), drsn_json_int(&j, c.overruns);
    drsn_json_key(&j, "uart_errors"), drsn_json_int(&j, drsn_board_uart_errors());
    drsn_json_close(&j, '}');
    send(&j);
}

static void apply_config(void)
{
    __asm volatile("cpsid i" ::: "memory");
    config = pending;
    drsn_stream_reset(config.hop);
    bad_lines = 0;
    __asm volatile("cpsie i" ::: "memory");
    drsn_decide_reset(&decider, config.smooth, config.alert, config.clear, config.normal);
    windows = 0;
    drsn_json j;
    drsn_json_begin(&j);
    drsn_json_key(&j, "config");
    drsn_json_open(&j, '{');
    drsn_json_key(&j, "hop"), drsn_json_int(&j, config.hop);
    drsn_json_key(&j, "smooth"), drsn_json_int(&j, decider.smooth);
    drsn_json_key(&j, "alert"), drsn_json_int(&j, config.alert);
    drsn_json_key(&j, "clear"), drsn_json_int(&j, decider.clear_after);
    drsn_json_key(&j, "normal"), drsn_json_int(&j, config.normal);
    drsn_json_key(&j, "raw"), drsn_json_int(&j, config.raw);
    drsn_json_close(&j, '}');
    send(&j);
}

/* numpy's float32 softmax of the dequantised logits, p[k] = 1 / sum(exp(l - l[k])), with numpy's
 * pairwise order of the sum (eight partial sums, then the rest), so the rounded confidence agrees. */
static float confidence(const int8_t logits[DRSN_NUM_CLASSES], int32_t k)
{
    float e[DRSN_NUM_CLASSES], top = ((float)logits[k] - DRSN_OUTPUT_ZERO_POINT) * DRSN_OUTPUT_SCALE;
    for (int i = 0; i < DRSN_NUM_CLASSES; i++)
        e[i] = expf(((float)logits[i] - DRSN_OUTPUT_ZERO_POINT) * DRSN_OUTPUT_SCALE - top);
    float sum;
    int i = 0;
    if (DRSN_NUM_CLASSES < 8) {
        sum = 0.0f;
    } else {
        sum = ((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7]));
        i = 8;
    }
    for (; i < DRSN_NUM_CLASSES; i++)
        sum += e[i];
    return e[k] / sum;
}

/* A class index's name: the model's classes, then "unknown" (index DRSN_NUM_CLASSES) */
static const char *class_name(int32_t k)
{
    return k < DRSN_NUM_CLASSES ? drsn_class_names[k] : "unknown";
}

/* The window's JSON line. Kept out of classify() (never inlined) so that its line buffer is not on the
 * stack while the engine runs: on the micro:bit's 16 KB that buffer is what would not fit. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void report(uint32_t start, int k, const int8_t *logits, uint64_t ticks)
{
    const int model_k = k;
    drsn_json j;
    drsn_json_begin(&j);
    drsn_json_key(&j, "time"), drsn_json_fixed(&j, (double)(start + DRSN_WINDOW_LENGTH) / DRSN_SAMPLE_RATE, 6);
    drsn_json_key(&j, "window"), drsn_json_int(&j, windows);
#if DRSN_UNKNOWN_ON
    const int32_t score = drsn_unknown_score(logits, DRSN_NUM_CLASSES);
    if (DRSN_IS_UNKNOWN(score, DRSN_UNKNOWN_THRESHOLD))
        k = DRSN_NUM_CLASSES; /* "unknown" votes and alerts like a class of its own, as on the Pi */
#endif
    drsn_json_key(&j, "class"), drsn_json_string(&j, class_name(k));
    drsn_json_key(&j, "confidence"), drsn_json_fixed(&j, confidence(logits, model_k), 4);
    drsn_json_key(&j, "latency_ms"), drsn_json_fixed(&j, (double)ticks * 1000.0 / board->tick_hz, 3);
    drsn_json_key(&j, "ticks"), drsn_json_int(&j, (int64_t)ticks);
#if DRSN_UNKNOWN_ON
    drsn_json_key(&j, "score"), drsn_json_int(&j, score);
    if (k != model_k)
        drsn_json_key(&j, "best"), drsn_json_string(&j, drsn_class_names[model_k]);
#endif
    if (config.smooth > 1 || config.alert) {
        int32_t alert;
        int onset;
        int32_t smoothed = drsn_decide(&decider, k, &alert, &onset);
        drsn_json_key(&j, "smoothed"), drsn_json_string(&j, class_name(smoothed));
        if (config.alert) {
            drsn_json_key(&j, "alert");
            if (alert >= 0)
                drsn_json_string(&j, class_name(alert));
            else
                drsn_json_null(&j);
        }
    }
    if (config.raw) {
        drsn_json_key(&j, "raw");
        drsn_json_open(&j, '[');
        for (int i = 0; i < DRSN_NUM_CLASSES; i++)
            drsn_json_int(&j, logits[i]);
        drsn_json_close(&j, ']');
    }
    send(&j);
    windows++;
}

static void classify(uint32_t start)
{
    int8_t logits[DRSN_NUM_CLASSES];
    uint64_t before = drsn_board_ticks();
    int k = drsn_classify(window, logits);
    uint64_t ticks = drsn_board_ticks() - before;
    if (k >= 0) /* always: the stream holds finite samples only */
        report(start, k, logits, ticks);
}

int main(void)
{
    board = drsn_board_init();
    pending = DEFAULTS;
    apply_config();
    hello();
    for (;;) {
        uint32_t start;
        if (want_config) {
            want_config = 0;
            apply_config();
        } else if (want_hello) {
            want_hello = 0;
            hello();
        } else if (drsn_stream_window(window, &start)) {
            classify(start);
        } else if (want_status) {
            want_status = 0; /* after every waiting window: the counts cover what was sent before */
            status();
        } else {
            __asm volatile("cpsid i" ::: "memory");
            if (!want_config && !want_hello && !want_status && !drsn_stream_ready())
                drsn_board_idle(); /* wfi wakes on a pending interrupt even while masked */
            __asm volatile("cpsie i" ::: "memory");
        }
    }
}
