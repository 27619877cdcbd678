/* Protocol test: trm_model_predict runs the recursion the model was trained with (docs/model.md: The
 * inference protocol). A TRM-ACT model trained on a configuration with a step-time table is saved and loaded
 * back; its default prediction must equal a trm_runner_step loop that feeds the original puzzle at every step
 * with time row 1, bit for bit, and differ from the DIS loop (feedback, per-step rows). Also the boundary of
 * trm_model_protocol, trm_model_config_for_method and the new parameter fields. Prints "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trmdis.h"

static int passed = 0, failed = 0;

#define CHECK(cond, what)                                                                         \
    do {                                                                                          \
        if (cond) {                                                                               \
            passed++;                                                                             \
        } else {                                                                                  \
            failed++;                                                                             \
            fprintf(stderr, "%s:%d: %s (last error: %s)\n", __FILE__, __LINE__, what, trm_last_error()); \
        }                                                                                         \
    } while (0)

#define MUST(call)                                                                                \
    do {                                                                                          \
        if ((call) != TRM_OK) {                                                                   \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, trm_last_error()); \
            exit(2);                                                                              \
        }                                                                                         \
    } while (0)

enum { N = 6, L = 8, V = 5, STEPS = 4 };

static void argmax(const float *logits, int32_t *out) {
    for (int c = 0; c < N * L; c++) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[c * V + v] > logits[c * V + best]) best = v;
        out[c] = best;
    }
}

/* The runner loop: each step's argmax into trace[step], the last step's logits into last. With feedback the
 * argmax becomes the next input; per_step picks time row s instead of row 1. */
static void runner_loop(trm_model *model, const int32_t *inputs, int feedback, int per_step, int32_t *trace,
                        float *last) {
    trm_runner *runner = NULL;
    MUST(trm_runner_create(model, N, &runner));
    MUST(trm_runner_reset_carry(runner));
    int32_t tokens[N * L];
    memcpy(tokens, inputs, sizeof tokens);
    for (int s = 1; s <= STEPS; s++) {
        MUST(trm_runner_step(runner, tokens, N * L, NULL, 0, per_step ? s : 1, last, N * L * V, NULL, 0));
        argmax(last, trace + (s - 1) * N * L);
        if (feedback) memcpy(tokens, trace + (s - 1) * N * L, sizeof tokens);
    }
    trm_runner_free(runner);
}

static trm_model *trained_trm_model(const int32_t *inputs, const int32_t *labels) {
    trm_model_config c;
    trm_model_config_init(&c);
    c.vocab_size = V;
    c.seq_len = L;
    c.hidden_size = 16;
    c.num_heads = 2;
    c.num_layers = 1;
    c.puzzle_emb_len = 0;
    c.puzzle_emb_ndim = 0;
    c.num_puzzle_identifiers = 0;
    c.h_cycles = 1;
    c.l_cycles = 2;
    c.supervision_steps = STEPS;
    c.time_embedding = 1; /* asked for explicitly: TRM then trains row 1 only */
    trm_model *model = NULL;
    MUST(trm_model_create(&c, 3, &model));
    trm_dataset *data = NULL;
    MUST(trm_dataset_create(L, inputs, labels, N * L, NULL, N, &data));
    trm_train_params tp;
    trm_train_params_init(&tp);
    CHECK(tp.ema_rate == -1.0f, "ema_rate defaults to -1, the method's default");
    tp.method = TRM_METHOD_TRM;
    tp.batch_size = N;
    tp.learning_rate = 3e-3f;
    tp.warmup_steps = 0;
    tp.max_steps = 12;
    trm_trainer *trainer = NULL;
    tp.ema_rate = -0.5f;
    CHECK(trm_trainer_create(model, data, NULL, &tp, &trainer) == TRM_ERR_INVALID_ARG && trainer == NULL,
          "ema_rate -0.5 refused");
    tp.ema_rate = -1.0f;
    MUST(trm_trainer_create(model, data, NULL, &tp, &trainer));
    MUST(trm_trainer_run(trainer, NULL));
    trm_trainer_free(trainer);
    trm_dataset_free(data);
    return model;
}

static void test_for_method(void) {
    trm_model_config c, before;
    MUST(trm_model_config_preset("nqueens", &c));
    CHECK(c.time_embedding == 1, "the nqueens preset is a DIS preset");
    CHECK(trm_model_config_for_method(&c, TRM_METHOD_TRM) == TRM_OK && c.time_embedding == 0,
          "TRM drops the step-time embedding");
    CHECK(trm_model_config_for_method(&c, TRM_METHOD_DIS) == TRM_OK && c.time_embedding == 1,
          "DIS adds it");
    before = c;
    CHECK(trm_model_config_for_method(&c, 2) == TRM_ERR_INVALID_ARG, "unknown method refused");
    CHECK(trm_model_config_for_method(NULL, TRM_METHOD_DIS) == TRM_ERR_INVALID_ARG, "NULL config refused");
    c.struct_size = 3;
    before.struct_size = 3;
    CHECK(trm_model_config_for_method(&c, TRM_METHOD_DIS) == TRM_ERR_ABI, "bad struct_size refused");
    CHECK(memcmp(&c, &before, sizeof c) == 0, "config untouched on failure");
}

static void test_protocol_queries(trm_model *model) {
    trm_protocol p;
    memset(&p, 0x5A, sizeof p);
    trm_protocol copy = p;
    CHECK(trm_model_protocol(model, &p) == TRM_ERR_ABI && memcmp(&p, &copy, sizeof p) == 0, "bad struct_size");
    p.struct_size = sizeof p;
    CHECK(trm_model_protocol(NULL, &p) == TRM_ERR_INVALID_ARG, "NULL model refused");
    CHECK(trm_model_protocol(model, NULL) == TRM_ERR_INVALID_ARG, "NULL out refused");
    CHECK(trm_model_protocol(model, &p) == TRM_OK, "protocol of a trained model");
    CHECK(p.recorded == 1 && p.method == TRM_METHOD_TRM && p.feedback == 0 && p.time_rows == TRM_TIME_ROWS_FIRST &&
              p.supervision_steps == STEPS,
          "a TRM record: no feedback, time row 1");
}

int main(void) {
    int32_t inputs[N * L], labels[N * L];
    uint32_t state = 12345;
    for (int i = 0; i < N * L; i++) {
        state = state * 1664525u + 1013904223u;
        labels[i] = 2 + (int32_t)((state >> 16) % 3);
        inputs[i] = (state >> 8) % 5 < 2 ? 1 : labels[i];
    }
    test_for_method();
    trm_model *trained = trained_trm_model(inputs, labels);
    char path[] = "/tmp/trmdis-protocol-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    close(fd);
    MUST(trm_model_save(trained, path));
    trm_model_free(trained);
    trm_model *model = NULL;
    MUST(trm_model_load(path, &model));
    unlink(path);
    test_protocol_queries(model);

    static int32_t trace[STEPS * N * L], want[STEPS * N * L], dis_trace[STEPS * N * L];
    static float logits[N * L * V], want_logits[N * L * V], dis_logits[N * L * V];
    MUST(trm_model_predict(model, NULL, inputs, N * L, NULL, N, trace, STEPS * N * L, NULL, 0, logits, N * L * V));
    runner_loop(model, inputs, 0, 0, want, want_logits);
    runner_loop(model, inputs, 1, 1, dis_trace, dis_logits);
    CHECK(memcmp(trace, want, sizeof trace) == 0, "default prediction = the fixed-input, row-1 loop (every step)");
    CHECK(memcmp(logits, want_logits, sizeof logits) == 0, "last logits bit for bit");
    CHECK(memcmp(dis_logits, want_logits, sizeof logits) != 0, "the DIS loop differs (the test can fail)");

    trm_predict_params pp;
    trm_predict_params_init(&pp);
    CHECK(pp.time_rows == -1 && pp.feedback == -1, "predict defaults: as trained");
    pp.feedback = 1;
    pp.time_rows = TRM_TIME_ROWS_PER_STEP;
    MUST(trm_model_predict(model, &pp, inputs, N * L, NULL, N, trace, STEPS * N * L, NULL, 0, logits, N * L * V));
    CHECK(memcmp(logits, dis_logits, sizeof logits) == 0, "overrides give the DIS loop");
    int32_t bad[] = {2, -2, 7};
    for (int i = 0; i < 3; i++) {
        pp.time_rows = bad[i];
        CHECK(trm_model_predict(model, &pp, inputs, N * L, NULL, N, NULL, 0, NULL, 0, NULL, 0) == TRM_ERR_INVALID_ARG,
              "bad time_rows refused");
    }
    trm_model_free(model);
    printf("protocol_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
