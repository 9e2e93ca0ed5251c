/* marian.h — internal calls of the marian architecture used by translate.c
 * (beam search needs several decoder hypotheses in one session). Not part of
 * the public API; see docs/marian-gguf.md for the model itself.
 */
#ifndef ATN_MARIAN_H
#define ATN_MARIAN_H

#include <stdint.h>
#include "../model.h"

/* Hyper-parameters a decoder loop needs. */
typedef struct atn_marian_info {
    int d_model, n_enc, n_dec, n_head, n_ctx; /* n_ctx: longest source / target */
    int32_t start;                            /* decoder_start_token_id */
    int32_t eos, pad;                         /* -1 if none */
    int n_src;                                /* tokens of the current source (0: none) */
} atn_marian_info;

/* 0, or -1 if the session's model is not marian. */
int atn_marian_info_get(const atn_session *s, atn_marian_info *out);

/* Source slots: several sentences can be decoded in one batch, each row
 * attending to its own encoded source. */
#define ATN_MARIAN_MAX_SOURCES 8

/* Encode a source into source slot `slot` (atn_set_source = slot 0). */
int atn_marian_encode(atn_session *s, int slot, const int32_t *src, int n);
/* Encode `count` sources at once (one pass over the encoder's weights for
 * all), source i (ns[i] ids at srcs[i]) into slot slots[i]; the slots must
 * differ. Each source's keys/values are those atn_marian_encode gives. */
int atn_marian_encode_batch(atn_session *s, const int *slots, const int32_t *const *srcs, const int *ns, int count);

/* Make room for n_slots decoder hypotheses (slot 0 is the one atn_eval uses). */
int atn_marian_reserve_slots(atn_session *s, int n_slots);

/* General decoder pass: row r is token tok[r] of hypothesis slot[r] at
 * position pos[r] (its self-attention sees that slot's positions 0..pos[r],
 * which must already be cached or be earlier rows of this call). Writes n
 * rows of logits into s->logits (s->n_logits = n). Does not move n_past. */
int atn_marian_decode(atn_session *s, const int32_t *tok, const int *slot, const int *pos, int n);
/* The same, row r attending to source slot src[r] (NULL: all slot 0). */
int atn_marian_decode_src(atn_session *s, const int32_t *tok, const int *slot, const int *pos, const int *src, int n);

/* Beam reordering: slot b's cached positions [0, n_pos) become a copy of
 * slot parent[b]'s, for b < n_slots. */
int atn_marian_reorder(atn_session *s, const int *parent, int n_slots, int n_pos);

/* Keep the cross-attention weights of every row of the following decoder
 * passes (on != 0). atn_marian_attention then gives them as
 * [layer][row][head][source token] floats of the last pass. */
void atn_marian_record_attention(atn_session *s, int on);
const float *atn_marian_attention(const atn_session *s, int *n_rows);

#endif
