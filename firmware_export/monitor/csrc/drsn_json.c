/* drsn_json.c: see drsn_json.h. Output that would not fit is cut, never written past the buffer. */
#include "drsn_json.h"

static void put(drsn_json *j, char c)
{
    if (j->length < DRSN_LINE_MAX - 2) /* room kept for the closing "}\n" */
        j->text[j->length++] = c;
}

static void puts_raw(drsn_json *j, const char *s)
{
    while (*s)
        put(j, *s++);
}

static void separate(drsn_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->fields++)
        put(j, ',');
}

void drsn_json_begin(drsn_json *j)
{
    j->length = 0;
    j->fields = 0;
    j->after_key = 0;
    put(j, '{');
}

void drsn_json_key(drsn_json *j, const char *key)
{
    drsn_json_string(j, key);
    puts_raw(j, ": ");
    j->after_key = 1; /* the value that follows takes no comma */
}

void drsn_json_open(drsn_json *j, char bracket)
{
    separate(j);
    put(j, bracket);
    j->fields = 0;
}

void drsn_json_close(drsn_json *j, char bracket)
{
    put(j, bracket);
    j->fields = 1;
}

void drsn_json_string(drsn_json *j, const char *text)
{
    separate(j);
    put(j, '"');
    for (; *text; text++) {
        if (*text == '"' || *text == '\\')
            put(j, '\\');
        put(j, (unsigned char)*text < 0x20 ? '?' : *text);
    }
    put(j, '"');
}

static void digits(drsn_json *j, uint64_t v, int min_digits)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < min_digits);
    while (n)
        put(j, buf[--n]);
}

void drsn_json_int(drsn_json *j, int64_t value)
{
    separate(j);
    if (value < 0)
        put(j, '-');
    digits(j, value < 0 ? (uint64_t)(-(value + 1)) + 1 : (uint64_t)value, 1);
}

void drsn_json_fixed(drsn_json *j, double value, int decimals)
{
    uint64_t scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    uint64_t units = (uint64_t)(value * (double)scale + 0.5);
    separate(j);
    digits(j, units / scale, 1);
    put(j, '.');
    digits(j, units % scale, decimals);
}

void drsn_json_null(drsn_json *j)
{
    separate(j);
    puts_raw(j, "null");
}

void drsn_json_end(drsn_json *j)
{
    j->text[j->length++] = '}';
    j->text[j->length++] = '\n';
}
