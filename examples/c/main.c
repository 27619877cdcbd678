/* A tour of libtrmdis from C: version, a preset's parameter count, then a few supervision steps of a
 * small dis-compact-like model on random tokens. Every status is checked; everything is freed.
 * Build: make -C examples/c run (after `make lib`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "trmdis.h"

#define CHECK(call)                                                                                 \
    do {                                                                                            \
        int status_ = (call);                                                                       \
        if (status_ != TRM_OK) {                                                                    \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #call,               \
                    trm_status_string(status_), trm_last_error());                                  \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)

/* A small deterministic generator, so every run prints the same numbers. */
static uint32_t next_random(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

static int argmax(const float *values, int count) {
    int best = 0;
    for (int i = 1; i < count; i++)
        if (values[i] > values[best]) best = i;
    return best;
}

int main(void) {
    printf("libtrmdis %s (ABI %u, header ABI %d)\n", trm_version(), trm_abi_version(), TRM_ABI_VERSION);
    if (trm_abi_version() != TRM_ABI_VERSION) {
        fprintf(stderr, "library ABI %u does not match this header's %d\n", trm_abi_version(), TRM_ABI_VERSION);
        return 1;
    }
    CHECK(trm_set_num_threads(2));
    printf("threads: %d\n", trm_get_num_threads());

    /* The full dis-compact preset: only its parameter count. */
    trm_model_config cfg;
    CHECK(trm_model_config_preset("dis-compact", &cfg));
    trm_model *full = NULL;
    CHECK(trm_model_create(&cfg, 0, &full));
    int64_t n_params = 0;
    CHECK(trm_model_parameter_count(full, &n_params));
    printf("dis-compact: %lld parameters (D %d, %d layer, T %d, n %d, N_sup %d)\n", (long long)n_params,
           cfg.hidden_size, cfg.num_layers, cfg.h_cycles, cfg.l_cycles, cfg.supervision_steps);
    trm_model_free(full);

    /* The same recipe, shrunk: a 4x4 grid, D 32, 4 heads, a 4-position puzzle prefix. */
    cfg.seq_len = 16;
    cfg.hidden_size = 32;
    cfg.num_heads = 4;
    cfg.puzzle_emb_len = 4;
    cfg.puzzle_emb_ndim = 32;
    cfg.num_puzzle_identifiers = 3;
    trm_model *model = NULL;
    CHECK(trm_model_create(&cfg, 42, &model));
    CHECK(trm_model_parameter_count(model, &n_params));
    printf("small model: %lld parameters, vocab %d, seq %d\n", (long long)n_params, cfg.vocab_size, cfg.seq_len);

    enum { BATCH = 4 };
    trm_runner *runner = NULL;
    CHECK(trm_runner_create(model, BATCH, &runner));
    /* The runner keeps the model alive; this handle is no longer needed. */
    trm_model_free(model);

    size_t n_tokens = (size_t)BATCH * (size_t)cfg.seq_len;
    size_t n_logits = n_tokens * (size_t)cfg.vocab_size;
    int32_t *tokens = malloc(n_tokens * sizeof *tokens);
    float *logits = malloc(n_logits * sizeof *logits);
    if (tokens == NULL || logits == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int32_t puzzle_ids[BATCH];
    float q_logits[2 * BATCH];
    uint64_t state = 7;
    for (size_t i = 0; i < n_tokens; i++) tokens[i] = (int32_t)(next_random(&state) % (uint32_t)cfg.vocab_size);
    for (int b = 0; b < BATCH; b++) puzzle_ids[b] = (int32_t)(next_random(&state) % (uint32_t)cfg.num_puzzle_identifiers);

    CHECK(trm_runner_reset_carry(runner));
    for (int32_t step = 1; step <= cfg.supervision_steps; step++) {
        CHECK(trm_runner_step(runner, tokens, n_tokens, puzzle_ids, BATCH, step, logits, n_logits, q_logits,
                              2 * BATCH));
        int64_t net_calls = 0;
        CHECK(trm_runner_net_calls(runner, &net_calls));
        printf("step %d: net calls %lld, example 0 argmax of the first 8 positions:", step, (long long)net_calls);
        for (int t = 0; t < 8; t++) printf(" %d", argmax(logits + (size_t)t * (size_t)cfg.vocab_size, cfg.vocab_size));
        printf(", q_halt %.4f\n", q_logits[0]);
        if (net_calls != (int64_t)step * cfg.h_cycles * (cfg.l_cycles + 1)) {
            fprintf(stderr, "unexpected net call count\n");
            return 1;
        }
    }

    free(tokens);
    free(logits);
    trm_runner_free(runner);
    puts("ok");
    return 0;
}
