/* drsn_unknown.c: the "unknown" score (see drsn_unknown.h). */
#include "drsn_unknown.h"

int32_t drsn_unknown_score(const int8_t *logits, int32_t n)
{
    int32_t first = INT8_MIN, second = INT8_MIN, i;
    for (i = 0; i < n; ++i) {
        const int32_t v = logits[i];
        if (v > first) {
            second = first;
            first = v;
        } else if (v > second) {
            second = v;
        }
    }
    return first - second;
}
