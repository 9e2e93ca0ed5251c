/* unigram.c — SentencePiece unigram (GGUF tokenizer model "unigram" / "t5").
 *
 * After normalization (normalizer.c), the segmentation is the one with the
 * highest total piece score (Viterbi). As sentencepiece's optimized encoder
 * does it: walk the character positions left to right; from each, try every
 * vocabulary piece that starts there (the hash of the growing prefix is
 * extended byte by byte; a bitset of all pieces' prefix hashes stops the
 * search where no piece continues, as a trie would) and keep, for every end position, the best path
 * reaching it (first found wins a tie). A character that no piece of its own
 * length covers gets an "unknown" edge scored min_score - 10. User-defined
 * pieces score length * max_score - 0.1 so they always win. The arithmetic
 * (double for sums, float for storage) follows SentencePiece's so ties break
 * the same way. Unknown runs become one unknown token, or bytes <0xXX> when
 * the vocabulary has byte pieces.
 */
#include <stdlib.h>
#include <string.h>
#include <float.h>
#include "tok_internal.h"
#include "../error.h"
#include "../checked.h"

typedef struct { float score; int32_t start; int32_t id; } best_t;

int atn_unigram_encode(const atn_tokenizer *t, const char *text, size_t len, atn_tok_out *o) {
    char *s; size_t n;
    if (atn_spm_normalize(t, text, len, &s, &n) < 0) return -1;
    if (n == 0) { free(s); return 0; }
    best_t *best = atn_malloc_array(atn_add_size(n, 1), sizeof *best);
    int32_t *path = atn_malloc_array(atn_add_size(n, 1), sizeof *path);
    if (!best || !path || n > INT32_MAX - 1) {
        free(s); free(best); free(path);
        return atn_error("tokenize: out of memory (a text of %zu bytes needs %.0f MiB of work buffers)", len,
                         ((double)n + 1) * (sizeof *best + sizeof *path) / (1 << 20));
    }
    for (size_t i = 0; i <= n; i++) { best[i].score = 0; best[i].start = -1; best[i].id = -1; }

    const float unk_score = t->min_score - 10.0f;
    const float max_score = t->max_score > FLT_MIN ? t->max_score : FLT_MIN; /* as SentencePiece */
    for (size_t at = 0; at < n;) {
        const float base = best[at].score;
        int mblen = atn_utf8_char_len((unsigned char)s[at]);
        if (mblen == 0 || (size_t)mblen > n - at) mblen = 1;
        int single = 0;
        size_t end = n - at < t->max_piece_len ? n : at + t->max_piece_len;
        uint32_t h = ATN_TOK_HASH_INIT;
        for (size_t k = at + 1; k <= end; k++) {
            h = atn_tok_hash_step(h, (unsigned char)s[k - 1]);
            if (!atn_tok_maybe_prefix(t, h)) break;                      /* no piece goes on like this */
            if (k < n && ((unsigned char)s[k] & 0xC0) == 0x80) continue; /* not a character boundary */
            int32_t id = atn_tok_find_hashed(t, s + at, k - at, h);
            if (id < 0) continue;
            int ty = t->pieces[id].type;
            if (ty != ATN_TT_NORMAL && ty != ATN_TT_USER_DEFINED) continue; /* unused, control, byte, unknown */
            double sc = ty == ATN_TT_USER_DEFINED ? (double)(k - at) * max_score - 0.1 : (double)t->pieces[id].score;
            double cand = sc + base;
            if (best[k].start < 0 || cand > best[k].score) {
                best[k].score = (float)cand; best[k].start = (int32_t)at; best[k].id = id;
            }
            if (k - at == (size_t)mblen) single = 1;
        }
        if (!single) {
            size_t k = at + (size_t)mblen;
            float cand = unk_score + base;
            if (best[k].start < 0 || cand > best[k].score) {
                best[k].score = cand; best[k].start = (int32_t)at; best[k].id = -1;  /* -1: unknown */
            }
        }
        at += (size_t)mblen;
    }

    /* backtrack */
    int np = 0;
    for (size_t e = n; e > 0; e = (size_t)best[e].start) path[np++] = (int32_t)e;
    int prev_unk = 0;
    for (int k = np - 1; k >= 0; k--) {
        size_t e = (size_t)path[k], b = (size_t)best[e].start;
        int32_t id = best[e].id;
        if (id >= 0) { atn_tok_emit(o, id); prev_unk = 0; continue; }
        if (t->byte_fallback) {
            for (size_t i = b; i < e; i++) {
                int32_t bid = t->byte_id[(unsigned char)s[i]];
                /* a vocabulary may lack some byte pieces, and an unknown
                 * token too: such a byte is dropped, as an unknown run is
                 * below, never emitted as id -1 */
                if (bid < 0) bid = t->unk;
                if (bid >= 0) atn_tok_emit(o, bid);
            }
            prev_unk = 0;
        } else if (!prev_unk && t->unk >= 0) {
            atn_tok_emit(o, t->unk);
            prev_unk = 1;
        }
    }
    free(s); free(best); free(path);
    return 0;
}
