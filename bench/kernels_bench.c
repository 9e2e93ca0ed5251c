/* kernels_bench.c — matmul throughput on SmolLM2-135M's shapes.
 *
 * Two measurements per weight type:
 *  - "model": the matmuls of a whole forward pass (30 layers with distinct
 *    weights: q 576x576, k/v 576x192, o 576x576, gate/up 576x1536,
 *    down 1536x576, then the 576x49152 output), for 1 token (decode) and for a
 *    batch of prompt tokens (prefill). tokens/s here is an upper bound for the
 *    real model (attention, norms and the rest come on top).
 *  - "shape": GFLOP/s of each matrix shape alone for 1, 4 and 64 tokens
 *    (small matrices stay in cache; the first one also pays the JIT warm-up).
 * GFLOP/s counts 2 * n_in * n_out * n_tok.
 *
 * Build and run (see bench/kernels_bench.sh):
 *   native: gcc -O2 -march=native -Isrc bench/kernels_bench.c <core> -lm
 *   wasm:   emcc -O3 -msimd128 -sSTANDALONE_WASM ... ; node tests/run_wasi.mjs k.wasm
 * Args: [types=q8_0,q4_0,q4_K,q6_K] [prefill_tokens=128] [decode_tokens=8]
 *       [shapes, e.g. 384x384,384x1536,1536x384,384x8000: the translation
 *        model's; replaces the four shapes of the "shape" measurement]
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels.h"
#include "quant.h"
#include "tensor.h"

/* process CPU time, not wall time: the build machine is shared, and CPU time
 * is what other processes disturb least (KB_WALL=1 in the environment: wall) */
static double now(void) {
    struct timespec ts;
    static int wall = -1;
    if (wall < 0) wall = getenv("KB_WALL") != NULL;
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static float rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static int make_weight(atn_tensor *W, int type, int n_in, int n_out) {
    size_t rb = atn_row_size(type, n_in);
    uint8_t *data = malloc(rb * n_out);
    float *row = malloc(sizeof(float) * n_in);
    if (!data || !row) { free(data); free(row); return -1; }
    /* quantize a few distinct rows, then build the others block by block
     * from randomly chosen blocks of those (quantizing 135M values with the
     * reference quantizers would dominate the run). Repeating whole rows
     * would let the branch predictor learn per-block patterns that a real
     * model never shows (it hid a sign branch in the f16 scales once). */
    size_t bb = atn_type_block_bytes(type);
    int64_t nblk = n_in / atn_type_block_size(type);
    for (int r = 0; r < n_out; r++) {
        if (r < 16) {
            for (int i = 0; i < n_in; i++) row[i] = rnd() * 0.05f;
            atn_quantize_row(type, row, data + (size_t)r * rb, n_in);
        } else {
            for (int64_t b = 0; b < nblk; b++) {
                rnd();
                int src = (int)((rng >> 20) & 15);
                memcpy(data + (size_t)r * rb + b * bb, data + (size_t)src * rb + b * bb, bb);
            }
        }
    }
    free(row);
    memset(W, 0, sizeof *W);
    W->name = "w";
    W->type = type;
    W->n_dims = 2;
    W->ne[0] = n_in, W->ne[1] = n_out, W->ne[2] = W->ne[3] = 1;
    W->data = data;
    W->nbytes = rb * n_out;
    return 0;
}

enum { N_LAYER = 30, DIM = 576, KV = 192, FFN = 1536, VOCAB = 49152 };
static const int LAYER_SHAPES[7][2] = {{DIM, DIM}, {DIM, KV}, {DIM, KV}, {DIM, DIM}, {DIM, FFN}, {DIM, FFN}, {FFN, DIM}};

static int type_of(const char *name) {
    for (int t = 0; t < ATN_TYPE_COUNT; t++)
        if (atn_type_known(t) && strcmp(atn_type_name(t), name) == 0) return t;
    return -1;
}

static void bench_model(int type, int n_prefill, int n_decode) {
    static atn_tensor layers[N_LAYER][7];
    atn_tensor out;
    double flop_tok = 0;
    size_t bytes = 0;
    for (int l = 0; l < N_LAYER; l++)
        for (int k = 0; k < 7; k++) {
            if (make_weight(&layers[l][k], type, LAYER_SHAPES[k][0], LAYER_SHAPES[k][1])) {
                printf("out of memory\n");
                exit(1);
            }
            flop_tok += 2.0 * LAYER_SHAPES[k][0] * LAYER_SHAPES[k][1];
            bytes += layers[l][k].nbytes;
        }
    if (make_weight(&out, type, DIM, VOCAB)) { printf("out of memory\n"); exit(1); }
    flop_tok += 2.0 * DIM * VOCAB;
    bytes += out.nbytes;
    int nt = n_prefill > 1 ? n_prefill : 1;
    float *x = malloc(sizeof(float) * FFN * nt), *y = malloc(sizeof(float) * FFN * nt);
    float *logits = malloc(sizeof(float) * VOCAB * (size_t)nt);
    if (!x || !y || !logits) { printf("out of memory\n"); exit(1); }
    for (int i = 0; i < FFN * nt; i++) x[i] = rnd();

    /* one forward pass worth of matmuls for n tokens */
#define PASS(n, all_logits)                                                      \
    do {                                                                         \
        for (int l = 0; l < N_LAYER; l++)                                        \
            for (int k = 0; k < 7; k++) atn_matmul(&layers[l][k], x, n, y);      \
        atn_matmul(&out, x, (all_logits) ? n : 1, logits);                       \
    } while (0)

    PASS(1, 0); /* warm up */
    double t0 = now();
    for (int i = 0; i < n_decode; i++) PASS(1, 0);
    double dt = (now() - t0) / n_decode;
    printf("%-5s model decode : %7.2f ms/token  %6.1f tokens/s  %6.2f GFLOP/s  (%.0f MB of weights, %.2f GB/s)\n",
           atn_type_name(type), dt * 1e3, 1 / dt, flop_tok / dt * 1e-9, bytes / 1e6, bytes / dt * 1e-9);
    if (n_prefill > 1) {
        t0 = now();
        PASS(n_prefill, 0);
        dt = now() - t0;
        double flop = (flop_tok - 2.0 * DIM * VOCAB) * n_prefill + 2.0 * DIM * VOCAB;
        printf("%-5s model prefill: %7.2f ms/%d tok %6.1f tokens/s  %6.2f GFLOP/s  (logits for the last token only)\n",
               atn_type_name(type), dt * 1e3, n_prefill, n_prefill / dt, flop / dt * 1e-9);
    }
    for (int l = 0; l < N_LAYER; l++)
        for (int k = 0; k < 7; k++) free((void *)layers[l][k].data);
    free((void *)out.data);
    free(x), free(y), free(logits);
}

static int n_custom;
static int custom[8][2];
static double flop_budget = 1e8; /* work per measurement: $KB_FLOP (more steadies WASM) */

static void bench_shapes(int type) {
    /* K-quants need rows that are multiples of 256: SmolLM2-135M's 576 is not
     * (llama.cpp stores those tensors in other types), so they get the
     * shapes of a 2048-wide model (TinyLlama) */
    static const int small[4][2] = {{DIM, DIM}, {DIM, FFN}, {FFN, DIM}, {DIM, 4096}};
    static const int wide[4][2] = {{2048, 2048}, {2048, 256}, {2048, 5632}, {5632, 2048}};
    const int (*shapes)[2] = n_custom ? (const int (*)[2])custom : atn_type_block_size(type) == 256 ? wide : small;
    int n_shapes = n_custom ? n_custom : 4;
    static const int toks[3] = {1, 4, 64};
    printf("%-5s shapes (GFLOP/s):", atn_type_name(type));
    for (int s = 0; s < n_shapes; s++) {
        atn_tensor W;
        if (make_weight(&W, type, shapes[s][0], shapes[s][1])) return;
        float *x = malloc(sizeof(float) * shapes[s][0] * 64), *y = malloc(sizeof(float) * shapes[s][1] * 64);
        if (!x || !y) { printf("out of memory\n"); exit(1); }
        for (int i = 0; i < shapes[s][0] * 64; i++) x[i] = rnd();
        printf("  %dx%d:", shapes[s][0], shapes[s][1]);
        for (int k = 0; k < 3; k++) {
            int n = toks[k];
            double flop = 2.0 * shapes[s][0] * shapes[s][1] * n;
            int reps = (int)(flop_budget / flop) + 1;
            atn_matmul(&W, x, n, y);
            double t0 = now();
            for (int r = 0; r < reps; r++) atn_matmul(&W, x, n, y);
            double dt = (now() - t0) / reps;
            printf(" t%d %.1f", n, flop / dt * 1e-9);
        }
        free(x), free(y), free((void *)W.data);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    const char *types = argc > 1 ? argv[1] : "q8_0,q4_0,q4_K,q6_K";
    int n_prefill = argc > 2 ? atoi(argv[2]) : 128;
    int n_decode = argc > 3 ? atoi(argv[3]) : 8;
    const char *kf = getenv("KB_FLOP");
    if (kf && atof(kf) > 0) flop_budget = atof(kf);
    if (argc > 4) {
        char sb[256];
        snprintf(sb, sizeof sb, "%s", argv[4]);
        for (char *tok = strtok(sb, ","); tok && n_custom < 8; tok = strtok(NULL, ",")) {
            if (sscanf(tok, "%dx%d", &custom[n_custom][0], &custom[n_custom][1]) != 2 || custom[n_custom][0] <= 0 ||
                custom[n_custom][1] <= 0) {
                printf("bad shape %s (want NxM)\n", tok);
                return 1;
            }
            n_custom++;
        }
    }
    printf("kernels: %s\n", atn_kernels_name());
    char buf[256];
    snprintf(buf, sizeof buf, "%s", types);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int type = type_of(tok);
        if (type < 0) { printf("unknown type %s\n", tok); return 1; }
        bench_shapes(type);
        if (n_custom) continue; /* the model is SmolLM2-135M's shape, not those */
        if (DIM % atn_type_block_size(type) == 0) bench_model(type, n_prefill, n_decode);
        else printf("%-5s model: skipped (width %d is not a multiple of %d)\n", tok, DIM, atn_type_block_size(type));
    }
    return 0;
}
