/* drsn_lookup.c: an int8 -> int8 table lookup, how the engine runs LOGISTIC (the 256 entries are LiteRT's
 * own Prepare-time table, computed at export time). */
#include "drsn_kernels.h"

void drsn_lookup(const drsn_lut_params *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = p->table[(uint8_t)in[i]];
}
