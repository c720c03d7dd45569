/* drsn_main.c: classify raw windows from a file.
 *
 *   drsn_main INPUT.f32 OUTPUT.i8 [SCORES.i32]
 *
 * INPUT holds float32 little-endian windows of DRSN_WINDOW_LENGTH samples,
 * back to back; OUTPUT receives DRSN_NUM_CLASSES int8 logits per window;
 * SCORES, when given, each window's "unknown" score (drsn_unknown.h) as an
 * int32 in the machine's byte order.
 * Only fopen/fread/fwrite, so it also runs with newlib semihosting. */
#include <stdio.h>

#include "drsn_model.h"
#include "drsn_unknown.h"

int main(int argc, char **argv)
{
    static float window[DRSN_WINDOW_LENGTH]; /* static: keeps small MCU stacks small */
    int8_t logits[DRSN_NUM_CLASSES];
    long windows = 0, invalid = 0;
    size_t got;
    FILE *in, *out, *scores = NULL;
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: drsn_main INPUT.f32 OUTPUT.i8 [SCORES.i32]\n");
        return 2;
    }
    in = fopen(argv[1], "rb");
    if (in == NULL) {
        fprintf(stderr, "error: cannot open %s\n", argv[1]);
        return 1;
    }
    out = fopen(argv[2], "wb");
    if (out == NULL) {
        fprintf(stderr, "error: cannot create %s\n", argv[2]);
        fclose(in);
        return 1;
    }
    if (argc == 4 && (scores = fopen(argv[3], "wb")) == NULL) {
        fprintf(stderr, "error: cannot create %s\n", argv[3]);
        fclose(in);
        fclose(out);
        return 1;
    }
    while ((got = fread(window, sizeof(float), DRSN_WINDOW_LENGTH, in)) == DRSN_WINDOW_LENGTH) {
        if (drsn_classify(window, logits) < 0) invalid++;
        if (fwrite(logits, 1, DRSN_NUM_CLASSES, out) != DRSN_NUM_CLASSES) {
            fprintf(stderr, "error: cannot write %s\n", argv[2]);
            fclose(in);
            fclose(out);
            if (scores != NULL) fclose(scores);
            return 1;
        }
        if (scores != NULL) {
            const int32_t score = drsn_unknown_score(logits, DRSN_NUM_CLASSES);
            if (fwrite(&score, sizeof score, 1, scores) != 1) {
                fprintf(stderr, "error: cannot write %s\n", argv[3]);
                fclose(in);
                fclose(out);
                fclose(scores);
                return 1;
            }
        }
        windows++;
    }
    fclose(in);
    if (scores != NULL && fclose(scores) != 0) {
        fprintf(stderr, "error: cannot write %s\n", argv[3]);
        fclose(out);
        return 1;
    }
    if (got != 0) {
        fprintf(stderr, "error: %s ends with a partial window (%lu samples)\n", argv[1], (unsigned long)got);
        fclose(out);
        return 1;
    }
    if (fclose(out) != 0) {
        fprintf(stderr, "error: cannot write %s\n", argv[2]);
        return 1;
    }
    printf("drsn_main: %ld windows, %ld invalid\n", windows, invalid);
    return 0;
}
