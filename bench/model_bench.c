/* model_bench.c — native whole-model benchmark and memory accounting over the
 * public C API (src/atento.h), independent of the CLI. Used by bench/run.sh
 * for the "model load copies the bytes once" check and as a profiling target
 * (perf record / callgrind).
 *
 *   model_bench MODEL.gguf [prompt_tokens=128] [gen_tokens=128] [reps=1]
 *
 * Reads the file once into an atn_malloc buffer and hands it to
 * atn_model_load(take_ownership=1), measuring heap bytes (glibc mallinfo2)
 * before and after each step: what the load allocates beyond the file, what
 * the session (KV cache, activations, logits) allocates. Then times a prefill
 * of prompt_tokens pseudo-random ids (the same generator as js/cli/bench.js)
 * and gen_tokens single-token decode steps with greedy (argmax) sampling,
 * best of reps by wall time and (the *_cpu_* figures) by process CPU time,
 * which a loaded shared machine disturbs much less. Prints one JSON line.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "atento.h"
#ifndef __wasm__
#include <malloc.h>
#include <sys/resource.h>
#endif

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of the process: on a shared machine, wall time counts the time
 * other processes hold the cores; CPU time mostly does not. */
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long long heap_bytes(void) {
#ifdef __wasm__
    return 0; /* built as WASI (bench/run.sh --wasi): speed only */
#else
    struct mallinfo2 mi = mallinfo2();
    return (long long)(mi.uordblks + mi.hblkhd);
#endif
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: model_bench MODEL.gguf [prompt_tokens=128] [gen_tokens=128] [reps=1]\n");
        return 2;
    }
    const char *path = argv[1];
    int n_prompt = argc > 2 ? atoi(argv[2]) : 128;
    int n_gen = argc > 3 ? atoi(argv[3]) : 128;
    int reps = argc > 4 ? atoi(argv[4]) : 1;
    if (n_prompt < 1 || n_gen < 0 || reps < 1) {
        fprintf(stderr, "model_bench: bad counts\n");
        return 2;
    }
    /* no mmap'ed chunks hidden from the count: large blocks are in hblkhd */
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "model_bench: cannot open %s\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    long long h0 = heap_bytes();
    void *data = atn_malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "model_bench: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    long long h1 = heap_bytes();
    double t0 = now_ms();
    atn_model *m = atn_model_load(data, (size_t)size, 1);
    double t_load = now_ms() - t0;
    if (!m) {
        fprintf(stderr, "model_bench: load: %s\n", atn_last_error());
        return 1;
    }
    long long h2 = heap_bytes();
    int n_vocab = atn_model_n_vocab(m);
    int n_ctx = n_prompt + n_gen;
    atn_session *s = atn_session_new(m, n_ctx);
    if (!s) {
        fprintf(stderr, "model_bench: session: %s\n", atn_last_error());
        return 1;
    }
    long long h3 = heap_bytes();

    int32_t *prompt = malloc((size_t)n_prompt * sizeof *prompt);
    if (!prompt) return 1;
    int lo = n_vocab - 1 < 256 ? n_vocab - 1 : 256;
    uint32_t x = 12345;
    for (int i = 0; i < n_prompt; i++) {
        x = x * 1103515245u + 12345u;
        prompt[i] = lo + (int32_t)((x >> 8) % (uint32_t)(n_vocab - lo));
    }
    /* warm-up, as js/cli/bench.js does */
    if (atn_eval(s, prompt, n_prompt < 8 ? n_prompt : 8, 0) < 0) {
        fprintf(stderr, "model_bench: eval: %s\n", atn_last_error());
        return 1;
    }
    double best_p = 1e30, best_d = 1e30, cbest_p = 1e30, cbest_d = 1e30;
    long long h_peak_eval = 0;
    for (int r = 0; r < reps; r++) {
        atn_session_truncate(s, 0);
        double a = now_ms(), ca = cpu_ms();
        if (atn_eval(s, prompt, n_prompt, 0) < 0) {
            fprintf(stderr, "model_bench: eval: %s\n", atn_last_error());
            return 1;
        }
        double b = now_ms(), cb = cpu_ms();
        int32_t tok = argmax(atn_logits(s, -1), n_vocab);
        for (int i = 0; i < n_gen; i++) {
            if (atn_eval(s, &tok, 1, 0) < 0) {
                fprintf(stderr, "model_bench: eval: %s\n", atn_last_error());
                return 1;
            }
            tok = argmax(atn_logits(s, -1), n_vocab);
        }
        double c = now_ms(), cc = cpu_ms();
        if ((b - a) + (c - b) < best_p + best_d) best_p = b - a, best_d = c - b;
        if (cb - ca < cbest_p) cbest_p = cb - ca;
        if (cc - cb < cbest_d) cbest_d = cc - cb;
        long long h = heap_bytes();
        if (h > h_peak_eval) h_peak_eval = h;
    }
    long long max_rss = 0;
#ifndef __wasm__
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    max_rss = (long long)ru.ru_maxrss * 1024;
#endif
    printf("{\"model\":\"%s\",\"model_bytes\":%ld,\"load_ms\":%.2f,\"prompt_tokens\":%d,\"gen_tokens\":%d,"
           "\"prefill_ms\":%.2f,\"decode_ms\":%.2f,\"prefill_tokens_per_s\":%.2f,\"decode_tokens_per_s\":%.2f,"
           "\"prefill_cpu_tokens_per_s\":%.2f,\"decode_cpu_tokens_per_s\":%.2f,"
           "\"heap_file_bytes\":%lld,\"heap_load_extra_bytes\":%lld,\"heap_session_bytes\":%lld,"
           "\"heap_after_eval_bytes\":%lld,\"peak_rss_bytes\":%lld}\n",
           path, size, t_load, n_prompt, n_gen, best_p, best_d, n_prompt / (best_p / 1e3),
           n_gen ? n_gen / (best_d / 1e3) : 0.0, n_prompt / (cbest_p / 1e3), n_gen ? n_gen / (cbest_d / 1e3) : 0.0, h1 - h0, h2 - h1, h3 - h2, h_peak_eval - h0,
           max_rss);
    free(prompt);
    atn_session_free(s);
    atn_model_free(m);
    return 0;
}
