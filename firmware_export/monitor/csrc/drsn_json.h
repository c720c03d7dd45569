/* drsn_json.h: building one JSON line in a fixed buffer, without printf (small MCUs, no heap). */
#ifndef DRSN_JSON_H
#define DRSN_JSON_H

#include <stdint.h>

#define DRSN_LINE_MAX 768

typedef struct {
    char text[DRSN_LINE_MAX];
    uint32_t length;
    int fields;    /* items so far in the innermost open object or array, for the commas */
    int after_key; /* a key was written: its value takes no comma */
} drsn_json;

void drsn_json_begin(drsn_json *j);      /* "{" */
void drsn_json_key(drsn_json *j, const char *key);
void drsn_json_open(drsn_json *j, char bracket); /* '{' or '[' as a value */
void drsn_json_close(drsn_json *j, char bracket); /* '}' or ']' */
void drsn_json_string(drsn_json *j, const char *text);
void drsn_json_int(drsn_json *j, int64_t value);
/* a non-negative value rounded to `decimals` places, e.g. 0.170667 */
void drsn_json_fixed(drsn_json *j, double value, int decimals);
void drsn_json_null(drsn_json *j);
void drsn_json_end(drsn_json *j);        /* "}\n" */

#endif
