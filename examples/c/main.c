/* A tour of libtrmdis from C: build a toy fill-the-blanks task, train a small DIS model on it, save the
 * model, load it back, and watch it solve one puzzle step by step. Every status is checked; everything is
 * freed.
 *
 * The task: arithmetic progressions mod 4 (digits 0-3, tokens 2-5) of 10 cells, the first two always shown
 * and about half of the others blanked (token 1). A blank is determined by the visible cells.
 *
 * Build and run: make -C examples/c run (after `make lib`). `./main STEPS` trains for STEPS steps (default
 * 150, about 10 s on two cores) and fails unless the model then solves a quarter of unseen puzzles;
 * with fewer than 100 steps (as under valgrind) the accuracy is only printed. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

enum { SEQ = 10, VOCAB = 6, BLANK = 1, N_TRAIN = 512, N_TEST = 128 };

/* A small deterministic generator, so every run builds the same puzzles. */
static uint32_t next_random(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

/* n puzzles: labels are progressions, inputs the same with blanks. */
static void make_puzzles(int n, uint64_t seed, int32_t *inputs, int32_t *labels) {
    uint64_t state = seed;
    for (int i = 0; i < n; i++) {
        uint32_t start = next_random(&state) % 4, stride = 1 + next_random(&state) % 3;
        for (int t = 0; t < SEQ; t++) {
            int32_t value = (int32_t)(2 + (start + (uint32_t)t * stride) % 4);
            labels[i * SEQ + t] = value;
            inputs[i * SEQ + t] = (t > 1 && next_random(&state) % 2 == 0) ? BLANK : value;
        }
    }
}

static void *checked_malloc(size_t bytes) {
    void *p = malloc(bytes);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* Prints cells as digits, '_' for a blank, and marks the cells that differ from `label` (if given). */
static int print_cells(const char *title, const int32_t *cells, const int32_t *label) {
    int wrong = 0;
    printf("  %-8s", title);
    for (int t = 0; t < SEQ; t++) {
        int bad = label != NULL && cells[t] != label[t];
        wrong += bad;
        if (cells[t] == BLANK) printf(" %c_", bad ? '*' : ' ');
        else printf(" %c%d", bad ? '*' : ' ', cells[t] - 2);
    }
    return wrong;
}

/* The progress callback: a line every 25 steps and after each evaluation. Returning false would stop. */
static bool on_step(const trm_step_info *info, void *user_data) {
    int *lines = user_data;
    if (info->step % 25 == 0 || info->step == 1 || info->has_eval) {
        printf("  step %4lld/%lld  loss %.4f  token acc %.3f  exact %.3f  lr %.2e  %6.0f examples/s",
               (long long)info->step, (long long)info->total_steps, info->loss, info->token_accuracy,
               info->exact_accuracy, info->learning_rate, info->examples_per_second);
        if (info->has_eval) printf("  | eval exact %.3f token %.3f", info->eval_exact_accuracy, info->eval_token_accuracy);
        printf("\n");
        (*lines)++;
    }
    return true;
}

int main(int argc, char **argv) {
    long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 150;
    if (steps < 1 || steps > 1000000) {
        fprintf(stderr, "usage: %s [steps: 1...1000000]\n", argv[0]);
        return 2;
    }
    printf("libtrmdis %s (ABI %u, header ABI %d)\n", trm_version(), trm_abi_version(), TRM_ABI_VERSION);
    if (trm_abi_version() != TRM_ABI_VERSION) {
        fprintf(stderr, "library ABI %u does not match this header's %d\n", trm_abi_version(), TRM_ABI_VERSION);
        return 1;
    }
    CHECK(trm_set_num_threads(2));
    /* The matrix kernels in use: an OpenBLAS core below the CPU (a generic one, or AVX2 on an AVX-512 CPU) is
     * corrected by the library, or reported through the log callback when it cannot be (docs/performance.md). */
    trm_blas_info blas = {.struct_size = sizeof blas};
    CHECK(trm_get_blas_info(&blas));
    printf("blas: %s core %s (OpenBLAS chose %s%s), cpu %s\n", blas.corrected ? "corrected to" : "running on", blas.core,
           blas.detected_core, blas.core_from_environment ? ", OPENBLAS_CORETYPE set" : "", blas.isa);

    /* ---- The data: 512 training and 128 held-out puzzles. ---- */
    int32_t *train_x = checked_malloc(sizeof(int32_t) * N_TRAIN * SEQ), *train_y = checked_malloc(sizeof(int32_t) * N_TRAIN * SEQ);
    int32_t *test_x = checked_malloc(sizeof(int32_t) * N_TEST * SEQ), *test_y = checked_malloc(sizeof(int32_t) * N_TEST * SEQ);
    make_puzzles(N_TRAIN, 1, train_x, train_y);
    make_puzzles(N_TEST, 2, test_x, test_y);
    trm_dataset *train = NULL, *test = NULL;
    CHECK(trm_dataset_create(SEQ, train_x, train_y, (size_t)N_TRAIN * SEQ, NULL, N_TRAIN, &train));
    CHECK(trm_dataset_create(SEQ, test_x, test_y, (size_t)N_TEST * SEQ, NULL, N_TEST, &test));
    int64_t n_train = 0;
    CHECK(trm_dataset_size(train, &n_train));
    printf("data: %lld training and %d test puzzles of %d cells\n", (long long)n_train, N_TEST, SEQ);

    /* ---- The model: the dis-compact recipe, shrunk (D 64, 1 layer, T 1, n 2, N_sup 4). ---- */
    trm_model_config cfg;
    CHECK(trm_model_config_preset("dis-compact", &cfg));
    cfg.vocab_size = VOCAB;
    cfg.seq_len = SEQ;
    cfg.puzzle_emb_len = 1;
    cfg.num_puzzle_identifiers = 1;
    cfg.hidden_size = 64;
    cfg.puzzle_emb_ndim = 64;
    cfg.num_heads = 4;
    cfg.expansion = 2.0f;
    cfg.num_layers = 1;
    cfg.h_cycles = 1;
    cfg.l_cycles = 2;
    cfg.supervision_steps = 4;
    cfg.time_embedding = 1;
    trm_model *model = NULL;
    CHECK(trm_model_create(&cfg, 1, &model));
    int64_t n_params = 0;
    CHECK(trm_model_parameter_count(model, &n_params));
    printf("model: %lld parameters, N_sup %d\n", (long long)n_params, cfg.supervision_steps);

    trm_predict_params defaults;
    trm_predict_params_init(&defaults);
    trm_eval_result before = {.struct_size = sizeof(trm_eval_result)};
    CHECK(trm_model_evaluate(model, test, &defaults, &before));
    printf("before training: exact %.3f, token %.3f\n", before.exact_accuracy, before.token_accuracy);

    /* ---- Training: DIS, evaluation every 50 steps, a line every 25. ---- */
    trm_train_params tp;
    trm_train_params_init(&tp);
    tp.method = TRM_METHOD_DIS;
    tp.batch_size = 32;
    tp.learning_rate = 3e-3f;
    tp.warmup_steps = 20;
    tp.weight_decay = 0.01f;
    tp.max_steps = steps;
    tp.eval_every = 50;
    int lines = 0;
    tp.progress = on_step;
    tp.progress_user_data = &lines;
    trm_trainer *trainer = NULL;
    CHECK(trm_trainer_create(model, train, test, &tp, &trainer));
    printf("training for %ld steps:\n", steps);
    trm_eval_result after = {.struct_size = sizeof(trm_eval_result)};
    CHECK(trm_trainer_run(trainer, &after));
    printf("after training: exact %.3f, token %.3f (%d progress lines)\n", after.exact_accuracy,
           after.token_accuracy, lines);
    printf("  by supervision step:");
    for (int s = 0; s < after.n_steps; s++)
        printf("  %d: exact %.3f, %.2f wrong cells", s + 1, after.exact_by_step[s], after.hamming_by_step[s]);
    printf("\n");
    trm_trainer_free(trainer);

    /* ---- Save, free, load. ---- */
    char dir[] = "/tmp/trmdis-example-XXXXXX", path[64];
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(trm_model_save(model, path));
    trm_model_free(model);
    trm_model *loaded = NULL;
    CHECK(trm_model_load(path, &loaded));
    printf("saved and reloaded %s\n", path);
    remove(path);
    rmdir(dir);

    trm_eval_result check = {.struct_size = sizeof(trm_eval_result)};
    CHECK(trm_model_evaluate(loaded, test, NULL, &check));
    if (check.exact_accuracy != after.exact_accuracy || check.token_accuracy != after.token_accuracy) {
        fprintf(stderr, "the reloaded model evaluates differently (%f vs %f)\n", check.exact_accuracy,
                after.exact_accuracy);
        return 1;
    }

    /* ---- One puzzle, step by step: the prediction after every supervision step. ---- */
    int n_steps = cfg.supervision_steps;
    size_t n_trace = (size_t)n_steps * N_TEST * SEQ;
    int32_t *trace = checked_malloc(sizeof(int32_t) * n_trace);
    float *halt = checked_malloc(sizeof(float) * (size_t)n_steps * N_TEST);
    CHECK(trm_model_predict(loaded, NULL, test_x, (size_t)N_TEST * SEQ, NULL, N_TEST, trace, n_trace, halt,
                            (size_t)n_steps * N_TEST, NULL, 0));
    /* The first puzzle the model gets wrong after step 1 and right after the last, else puzzle 0. */
    int shown = 0;
    for (int i = 0; i < N_TEST; i++) {
        const int32_t *first = trace + (size_t)i * SEQ, *last = trace + ((size_t)(n_steps - 1) * N_TEST + i) * SEQ;
        if (memcmp(first, test_y + i * SEQ, sizeof(int32_t) * SEQ) != 0 &&
            memcmp(last, test_y + i * SEQ, sizeof(int32_t) * SEQ) == 0) {
            shown = i;
            break;
        }
    }
    printf("test puzzle %d, solved step by step (* = wrong cell):\n", shown);
    print_cells("input", test_x + shown * SEQ, NULL);
    printf("\n");
    for (int s = 0; s < n_steps; s++) {
        char title[16];
        snprintf(title, sizeof title, "step %d", s + 1);
        int wrong = print_cells(title, trace + ((size_t)s * N_TEST + shown) * SEQ, test_y + shown * SEQ);
        /* DIS does not train the halting head; a TRM-trained model's would rise as the answer settles. */
        printf("   %d wrong, sigmoid(q_halt) %.2f\n", wrong, halt[(size_t)s * N_TEST + shown]);
    }
    print_cells("answer", test_y + shown * SEQ, NULL);
    printf("\n");

    free(trace);
    free(halt);
    trm_model_free(loaded);
    trm_dataset_free(train);
    trm_dataset_free(test);
    free(train_x);
    free(train_y);
    free(test_x);
    free(test_y);

    if (steps >= 100 && after.exact_accuracy < 0.25) {
        fprintf(stderr, "the model solved only %.3f of the test puzzles (expected at least 0.25)\n",
                after.exact_accuracy);
        return 1;
    }
    puts("ok");
    return 0;
}
