/* finetune_bench.c — memory and time of one training step of a marian model,
 * for the two choices docs/training.md compares: full f32 training of every
 * weight, or LoRA adapters on the decoder over the frozen quantized weights.
 *
 *   finetune_bench MODEL.gguf PAIRS.tsv full|lora [steps=3]
 *
 * Prints one JSON line: trainer bytes (weights/moments/caches/activations),
 * CPU seconds per step (clock(): the figure that does not depend on the
 * machine's load), peak RSS. Built and run by bench/finetune_bench.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include "atento.h"
#include "train/train.h"

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = atn_malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: finetune_bench MODEL PAIRS full|lora [steps]\n"); return 2; }
    int full = !strcmp(argv[3], "full"), steps = argc > 4 ? atoi(argv[4]) : 3;
    size_t n, np;
    char *bytes = slurp(argv[1], &n), *tsv = slurp(argv[2], &np);
    atn_model *m = bytes ? atn_model_load(bytes, n, 1) : NULL;
    if (!m || !tsv) { fprintf(stderr, "cannot load: %s\n", atn_last_error()); return 1; }
    atn_example ex[256];
    int k = 0;
    for (char *line = strtok(tsv, "\n"); line && k < 256; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (!tab || line[0] == '#') continue;
        *tab = 0;
        int32_t *s = malloc(512 * sizeof(int32_t)), *t = malloc(512 * sizeof(int32_t));
        int ns = atn_translate_source_ids(m, "es", line, strlen(line), s, 512);
        int nt = atn_tokenize(m, tab + 1, strlen(tab + 1), 0, 0, t, 511);
        t[nt++] = atn_token_eos(m);
        ex[k++] = (atn_example){s, ns, t, nt};
    }
    /* the pairs twice: the replayed sentences of `atento finetune` double the batch */
    for (int i = 0, n0 = k; i < n0 && k < 256; i++) ex[k++] = ex[i];
    atn_train_opts o = {full, 8, 16.0f, 0, 0.1f, 1};
    atn_trainer *tr = atn_trainer_new(m, &o);
    if (!tr) { fprintf(stderr, "%s\n", atn_last_error()); return 1; }
    size_t params_bytes = atn_trainer_bytes(tr);
    int rows = 0;
    for (int i = 0; i < k; i++) rows += ex[i].n_tgt;
    double cpu = 0;
    float loss = 0;
    for (int s = 1; s <= steps; s++) {
        clock_t c0 = clock();
        if (atn_trainer_grad(tr, ex, k, &loss)) { fprintf(stderr, "%s\n", atn_last_error()); return 1; }
        atn_trainer_clip(tr, 1.0f);
        atn_trainer_adamw(tr, s, 1e-3f, 0.9f, 0.98f, 1e-8f, 0.01f);
        if (s > 1 || steps == 1) cpu += (double)(clock() - c0) / CLOCKS_PER_SEC; /* step 1 builds the caches */
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"mode\":\"%s\",\"examples\":%d,\"target_rows\":%d,\"trained_params_bytes_at_start\":%zu,\"trainer_bytes\":%zu,"
           "\"model_file_bytes\":%zu,\"cpu_s_per_step\":%.3f,\"peak_rss_bytes\":%ld,\"loss\":%.4f}\n",
           argv[3], k, rows, params_bytes, atn_trainer_bytes(tr), n, cpu / (steps > 1 ? steps - 1 : 1), ru.ru_maxrss * 1024L, loss);
    atn_trainer_free(tr);
    atn_model_free(m);
    return 0;
}
