/* Boundary test: every function of trmdis.h called with NULL pointers, wrong struct sizes, huge and
 * negative sizes, wrong buffer lengths and out-of-range ids, garbage and truncated files, and stop requests
 * from another thread and from a signal handler. Each call must return the documented status, leave
 * out-parameters and buffers untouched, and never crash. Exits non-zero on any failed expectation. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trmdis.h"
#include "test_files.h"

static int failures = 0;
static int checks = 0;

#define EXPECT(cond, ...)                                                                           \
    do {                                                                                            \
        checks++;                                                                                   \
        if (!(cond)) {                                                                              \
            failures++;                                                                             \
            fprintf(stderr, "%s:%d: expected %s: ", __FILE__, __LINE__, #cond);                     \
            fprintf(stderr, __VA_ARGS__);                                                           \
            fputc('\n', stderr);                                                                    \
        }                                                                                           \
    } while (0)

/* A call that must fail with `want` and leave a message naming the function. */
#define EXPECT_STATUS(want, call)                                                                   \
    do {                                                                                            \
        int got_ = (call);                                                                          \
        EXPECT(got_ == (want), "%s returned %d (%s), last error \"%s\"", #call, got_,                \
               trm_status_string(got_), trm_last_error());                                          \
        if ((want) != TRM_OK)                                                                       \
            EXPECT(strncmp(trm_last_error(), "trm_", 4) == 0, "a message for %s, got \"%s\"", #call, \
                   trm_last_error());                                                               \
    } while (0)

#define REQUIRE_OK(call)                                                                            \
    do {                                                                                            \
        int got_ = (call);                                                                          \
        if (got_ != TRM_OK) {                                                                       \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, trm_last_error());   \
            exit(2);                                                                                \
        }                                                                                           \
    } while (0)

static trm_model_config sentinel_config(void) {
    trm_model_config c;
    memset(&c, 0xAB, sizeof c);
    return c;
}

static int same_bytes(const void *a, const void *b, size_t n) { return memcmp(a, b, n) == 0; }

/* ---- Log callback: counts warnings. ---- */
static int warnings = 0;
static void on_log(int32_t level, const char *message, void *user_data) {
    (void)message;
    if (level == TRM_LOG_WARN) warnings++;
    if (user_data != NULL) (*(int *)user_data)++;
}

/* ---- A tiny model used by the runner checks. ---- */
static trm_model_config tiny_config(void) {
    trm_model_config c;
    trm_model_config_init(&c);
    c.vocab_size = 5;
    c.seq_len = 6;
    c.hidden_size = 16;
    c.num_heads = 2;
    c.num_layers = 1;
    c.puzzle_emb_len = 2;
    c.puzzle_emb_ndim = 16;
    c.num_puzzle_identifiers = 3;
    c.h_cycles = 2;
    c.l_cycles = 2;
    c.supervision_steps = 4;
    c.time_embedding = 1;
    return c;
}

static void test_versions_and_strings(void) {
    EXPECT(trm_abi_version() == TRM_ABI_VERSION, "ABI %u", trm_abi_version());
    const char *v = trm_version();
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", TRM_VERSION_MAJOR, TRM_VERSION_MINOR, TRM_VERSION_PATCH);
    EXPECT(v != NULL && strcmp(v, want) == 0, "version \"%s\"", v ? v : "(null)");
    EXPECT(strcmp(trm_last_error(), "") == 0, "no error yet, got \"%s\"", trm_last_error());
    for (int s = TRM_OK; s <= TRM_ERR_NUMERIC; s++)
        EXPECT(trm_status_string(s) != NULL && strcmp(trm_status_string(s), "unknown status") != 0, "status %d", s);
    EXPECT(strcmp(trm_status_string(TRM_OK), "ok") == 0, "%s", trm_status_string(TRM_OK));
    const int odd[] = {-1, 9, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        EXPECT(strcmp(trm_status_string(odd[i]), "unknown status") == 0, "status %d", odd[i]);
}

static void test_threads(void) {
    int32_t before = trm_get_num_threads();
    EXPECT(before >= 1, "threads %d", before);
    const int32_t bad[] = {0, -1, 1025, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_set_num_threads(bad[i]));
        EXPECT(trm_get_num_threads() == before, "threads changed to %d", trm_get_num_threads());
    }
    /* At most the products OpenBLAS runs at once: twice the MAX_THREADS its configuration string names. */
    trm_blas_info info = {.struct_size = sizeof info};
    EXPECT_STATUS(TRM_OK, trm_get_blas_info(&info));
    const char *field = strstr(info.version, "MAX_THREADS=");
    EXPECT(field != NULL, "no MAX_THREADS in \"%s\"", info.version);
    if (field) {
        const int32_t slots = 2 * atoi(field + strlen("MAX_THREADS="));
        EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_set_num_threads(slots + 1));
        EXPECT(strstr(trm_last_error(), "with this OpenBLAS") != NULL, "message: %s", trm_last_error());
        EXPECT(trm_get_num_threads() == before, "threads changed to %d", trm_get_num_threads());
    }
    EXPECT_STATUS(TRM_OK, trm_set_num_threads(1));
    EXPECT(trm_get_num_threads() == 1, "threads %d", trm_get_num_threads());
    EXPECT_STATUS(TRM_OK, trm_set_num_threads(before));
}

static void test_config_functions(void) {
    trm_model_config_init(NULL); /* does nothing */
    trm_model_config c;
    trm_model_config_init(&c);
    EXPECT(c.struct_size == sizeof(trm_model_config), "struct_size %zu", c.struct_size);
    EXPECT(c.vocab_size == 11 && c.seq_len == 81 && c.hidden_size == 512 && c.num_heads == 8, "sudoku-att defaults");

    trm_model_config out = sentinel_config(), copy = out;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_config_preset(NULL, &out));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_config_preset("no-such-preset", &out));
    EXPECT(strstr(trm_last_error(), "no-such-preset") != NULL, "message names the preset: %s", trm_last_error());
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_config_preset("", &out));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_config_preset("SUDOKU-ATT", &out));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_config_preset("sudoku-att", NULL));
    EXPECT(same_bytes(&out, &copy, sizeof out), "config untouched after failed preset calls");

    const char *names[] = {"sudoku-mlp", "sudoku-att", "maze-att", "arc-att", "dis-compact", "dis-medium", "nqueens"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        out = sentinel_config();
        EXPECT_STATUS(TRM_OK, trm_model_config_preset(names[i], &out));
        EXPECT(out.struct_size == sizeof out, "%s struct_size %zu", names[i], out.struct_size);
    }
}

/* trm_model_create with one field changed must fail with `want` and leave *out alone. */
static void expect_create_fails(int want, trm_model_config c, const char *what) {
    trm_model *sentinel = (trm_model *)(uintptr_t)0x5eed;
    trm_model *out = sentinel;
    int got = trm_model_create(&c, 1, &out);
    checks++;
    if (got != want || out != sentinel) {
        failures++;
        fprintf(stderr, "model_create with %s: status %d (%s), wanted %d; out %s; last error \"%s\"\n", what, got,
                trm_status_string(got), want, out == sentinel ? "untouched" : "CHANGED", trm_last_error());
    }
    if (got == TRM_OK && out != sentinel) trm_model_free(out);
}

static void test_model_create(void) {
    trm_model_config good = tiny_config(), c;
    trm_model *out = (trm_model *)(uintptr_t)0x5eed;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_create(NULL, 0, &out));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_create(&good, 0, NULL));
    EXPECT(out == (trm_model *)(uintptr_t)0x5eed, "out untouched");

#define WITH(field, value, want)                                                                    \
    do {                                                                                            \
        c = good;                                                                                   \
        c.field = (value);                                                                          \
        expect_create_fails(want, c, #field " = " #value);                                          \
    } while (0)
    WITH(struct_size, 0, TRM_ERR_ABI);
    WITH(struct_size, sizeof(trm_model_config) - 4, TRM_ERR_ABI);
    WITH(struct_size, sizeof(trm_model_config) + 8, TRM_ERR_ABI);
    WITH(struct_size, SIZE_MAX, TRM_ERR_ABI);
    WITH(vocab_size, -1, TRM_ERR_INVALID_ARG);
    WITH(vocab_size, 0, TRM_ERR_INVALID_ARG);
    WITH(vocab_size, INT32_MAX, TRM_ERR_INVALID_ARG);
    WITH(seq_len, -5, TRM_ERR_INVALID_ARG);
    WITH(seq_len, INT32_MAX, TRM_ERR_INVALID_ARG);
    WITH(puzzle_emb_len, -1, TRM_ERR_INVALID_ARG);
    WITH(puzzle_emb_ndim, -1, TRM_ERR_INVALID_ARG);
    WITH(puzzle_emb_ndim, 1000, TRM_ERR_INVALID_ARG);
    WITH(num_puzzle_identifiers, -1, TRM_ERR_INVALID_ARG);
    WITH(num_puzzle_identifiers, 0, TRM_ERR_INVALID_ARG);
    WITH(hidden_size, -16, TRM_ERR_INVALID_ARG);
    WITH(hidden_size, 18, TRM_ERR_INVALID_ARG); /* 18 / 2 heads = 9: odd head dim under RoPE */
    WITH(hidden_size, 17, TRM_ERR_INVALID_ARG); /* not divisible by 2 heads */
    WITH(num_heads, 0, TRM_ERR_INVALID_ARG);
    WITH(num_heads, -2, TRM_ERR_INVALID_ARG);
    WITH(num_heads, 3, TRM_ERR_INVALID_ARG);
    WITH(expansion, 0.0f, TRM_ERR_INVALID_ARG);
    WITH(expansion, -1.0f, TRM_ERR_INVALID_ARG);
    WITH(expansion, NAN, TRM_ERR_INVALID_ARG);
    WITH(expansion, INFINITY, TRM_ERR_INVALID_ARG);
    WITH(num_layers, 0, TRM_ERR_INVALID_ARG);
    WITH(num_layers, 1000, TRM_ERR_INVALID_ARG);
    WITH(mixer, 2, TRM_ERR_INVALID_ARG);
    WITH(mixer, -1, TRM_ERR_INVALID_ARG);
    WITH(pos_encoding, 3, TRM_ERR_INVALID_ARG);
    WITH(pos_encoding, INT32_MIN, TRM_ERR_INVALID_ARG);
    WITH(rope_theta, NAN, TRM_ERR_INVALID_ARG);
    WITH(rope_theta, INFINITY, TRM_ERR_INVALID_ARG);
    WITH(rope_theta, 0.5f, TRM_ERR_INVALID_ARG);
    WITH(rms_norm_eps, 0.0f, TRM_ERR_INVALID_ARG);
    WITH(rms_norm_eps, NAN, TRM_ERR_INVALID_ARG);
    WITH(rms_norm_eps, -INFINITY, TRM_ERR_INVALID_ARG);
    WITH(h_cycles, 0, TRM_ERR_INVALID_ARG);
    WITH(l_cycles, -3, TRM_ERR_INVALID_ARG);
    WITH(supervision_steps, 0, TRM_ERR_INVALID_ARG);
    WITH(time_embedding, 2, TRM_ERR_INVALID_ARG);
    WITH(time_embedding, -1, TRM_ERR_INVALID_ARG);
#undef WITH
    /* Valid shapes whose weights cannot fit in memory: refused, not attempted. */
    c = good;
    c.vocab_size = 1 << 20;
    c.hidden_size = 16384;
    c.num_heads = 128;
    c.num_layers = 64;
    c.expansion = 64.0f;
    expect_create_fails(TRM_ERR_OOM, c, "weights too large for memory");
}

static void test_model_queries(trm_model *model) {
    trm_model_config c = sentinel_config(), copy = c;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_get_config(NULL, &c));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_get_config(model, NULL));
    EXPECT_STATUS(TRM_ERR_ABI, trm_model_get_config(model, &c)); /* struct_size is 0xABAB... */
    EXPECT(same_bytes(&c, &copy, sizeof c), "config untouched");
    c.struct_size = sizeof c - 8;
    copy = c;
    EXPECT_STATUS(TRM_ERR_ABI, trm_model_get_config(model, &c));
    EXPECT(same_bytes(&c, &copy, sizeof c), "config untouched");
    trm_model_config_init(&c);
    EXPECT_STATUS(TRM_OK, trm_model_get_config(model, &c));
    trm_model_config want = tiny_config();
    EXPECT(same_bytes(&c, &want, sizeof c), "get_config returns the create config");

    int64_t count = -7;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_parameter_count(NULL, &count));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_parameter_count(model, NULL));
    EXPECT(count == -7, "count untouched: %lld", (long long)count);
    EXPECT_STATUS(TRM_OK, trm_model_parameter_count(model, &count));
    EXPECT(count > 0, "count %lld", (long long)count);
}

static void test_runner_create(trm_model *model) {
    trm_runner *sentinel = (trm_runner *)(uintptr_t)0xbeef, *out = sentinel;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_runner_create(NULL, 1, &out));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_runner_create(model, 1, NULL));
    const int32_t bad[] = {0, -1, (1 << 20) + 1, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_runner_create(model, bad[i], &out));
    EXPECT(out == sentinel, "out untouched");

    /* A reference-sized model with the largest batch: its activations cannot fit. */
    trm_model_config c;
    REQUIRE_OK(trm_model_config_preset("sudoku-att", &c));
    trm_model *big = NULL;
    REQUIRE_OK(trm_model_create(&c, 0, &big));
    EXPECT_STATUS(TRM_ERR_OOM, trm_runner_create(big, 1 << 20, &out));
    EXPECT(out == sentinel, "out untouched");
    trm_model_free(big);
}

static void test_runner_step(trm_model *model) {
    trm_model_config c = tiny_config();
    enum { B = 3 };
    trm_runner *runner = NULL, *fresh = NULL;
    REQUIRE_OK(trm_runner_create(model, B, &runner));
    REQUIRE_OK(trm_runner_create(model, B, &fresh));

    size_t nt = (size_t)B * (size_t)c.seq_len, nl = nt * (size_t)c.vocab_size, nq = 2 * B;
    int32_t tokens[B * 6], ids[B] = {0, 1, 2};
    float logits[B * 6 * 5], q[2 * B], sentinel_logits[B * 6 * 5], sentinel_q[2 * B];
    for (size_t i = 0; i < nt; i++) tokens[i] = (int32_t)(i % (size_t)c.vocab_size);
    for (size_t i = 0; i < nl; i++) logits[i] = sentinel_logits[i] = -123.0f;
    for (size_t i = 0; i < nq; i++) q[i] = sentinel_q[i] = -456.0f;

#define STEP_FAILS(want, ...)                                                                       \
    do {                                                                                            \
        EXPECT_STATUS(want, trm_runner_step(__VA_ARGS__));                                          \
        EXPECT(same_bytes(logits, sentinel_logits, sizeof logits) && same_bytes(q, sentinel_q, sizeof q), \
               "buffers untouched after %s", #__VA_ARGS__);                                         \
    } while (0)
    const int E = TRM_ERR_INVALID_ARG;
    STEP_FAILS(E, NULL, tokens, nt, ids, B, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, NULL, nt, ids, B, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, NULL, 0, ids, B, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, 0, ids, B, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, nt - 1, ids, B, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, nt + 1, ids, B, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, SIZE_MAX, ids, B, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, nt, ids, B - 1, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, nt, ids, 0, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, nt, NULL, B, 1, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, nt, ids, B, 1, logits, nl - 1, q, nq);
    STEP_FAILS(E, runner, tokens, nt, ids, B, 1, logits, SIZE_MAX, q, nq);
    STEP_FAILS(E, runner, tokens, nt, ids, B, 1, NULL, nl, q, nq);
    STEP_FAILS(E, runner, tokens, nt, ids, B, 1, logits, nl, q, nq + 1);
    STEP_FAILS(E, runner, tokens, nt, ids, B, 1, logits, nl, NULL, nq);
    STEP_FAILS(E, runner, tokens, nt, ids, B, -1, logits, nl, q, nq);                       /* time step */
    STEP_FAILS(E, runner, tokens, nt, ids, B, c.supervision_steps + 2, logits, nl, q, nq);
    STEP_FAILS(E, runner, tokens, nt, ids, B, INT32_MIN, logits, nl, q, nq);
    const int32_t bad_tokens[] = {-1, 5, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof bad_tokens / sizeof bad_tokens[0]; i++) {
        int32_t saved = tokens[nt - 1];
        tokens[nt - 1] = bad_tokens[i];
        STEP_FAILS(E, runner, tokens, nt, ids, B, 1, logits, nl, q, nq);
        EXPECT(strstr(trm_last_error(), "token") != NULL, "message about the token: %s", trm_last_error());
        tokens[nt - 1] = saved;
    }
    int32_t bad_ids[B] = {0, 3, 0};
    STEP_FAILS(E, runner, tokens, nt, bad_ids, B, 1, logits, nl, q, nq);
    bad_ids[1] = -1;
    STEP_FAILS(E, runner, tokens, nt, bad_ids, B, 1, logits, nl, q, nq);
#undef STEP_FAILS

    /* The failures above left the carry and the counter alone: the first good step matches a fresh runner's. */
    int64_t calls = -1;
    EXPECT_STATUS(TRM_OK, trm_runner_net_calls(runner, &calls));
    EXPECT(calls == 0, "net calls %lld after failed steps", (long long)calls);
    float fresh_logits[B * 6 * 5], fresh_q[2 * B];
    EXPECT_STATUS(TRM_OK, trm_runner_step(runner, tokens, nt, ids, B, 1, logits, nl, q, nq));
    EXPECT_STATUS(TRM_OK, trm_runner_step(fresh, tokens, nt, ids, B, 1, fresh_logits, nl, fresh_q, nq));
    EXPECT(same_bytes(logits, fresh_logits, sizeof logits) && same_bytes(q, fresh_q, sizeof q), "carry untouched");
    /* Optional buffers: NULL with length 0, and puzzle ids NULL (all 0). */
    EXPECT_STATUS(TRM_OK, trm_runner_step(runner, tokens, nt, NULL, 0, 2, NULL, 0, NULL, 0));
    EXPECT_STATUS(TRM_OK, trm_runner_net_calls(runner, &calls));
    EXPECT(calls == 2 * c.h_cycles * (c.l_cycles + 1), "net calls %lld", (long long)calls);

    calls = -9;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_runner_net_calls(NULL, &calls));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_runner_net_calls(runner, NULL));
    EXPECT(calls == -9, "net_calls untouched");
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_runner_reset_carry(NULL));
    EXPECT_STATUS(TRM_OK, trm_runner_reset_carry(runner));
    EXPECT_STATUS(TRM_OK, trm_runner_net_calls(runner, &calls));
    EXPECT(calls == 0, "net calls %lld after reset", (long long)calls);

    /* Handles of the wrong kind are refused, not dereferenced. */
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_runner_reset_carry((trm_runner *)(void *)model));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_parameter_count((trm_model *)(void *)runner, &calls));
    int before = warnings;
    trm_model_free((trm_model *)(void *)runner); /* not a model: ignored with a warning */
    EXPECT(warnings == before + 1, "a warning through the log callback");
    EXPECT_STATUS(TRM_OK, trm_runner_reset_carry(runner));

    trm_runner_free(runner);
    trm_runner_free(fresh);
    before = warnings;
    trm_runner_free(runner); /* a second free: ignored with a warning */
    EXPECT(warnings == before + 1, "a warning for the double free");
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_runner_reset_carry(runner));
    trm_runner_free(NULL);
}

/* A runner keeps its model alive after trm_model_free. */
static void test_lifetimes(void) {
    trm_model_config c = tiny_config();
    trm_model *model = NULL;
    trm_runner *runner = NULL;
    REQUIRE_OK(trm_model_create(&c, 3, &model));
    REQUIRE_OK(trm_runner_create(model, 1, &runner));
    trm_model_free(model);
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_parameter_count(model, &(int64_t){0}));
    int32_t tokens[6] = {0, 1, 2, 3, 4, 0};
    float logits[30];
    EXPECT_STATUS(TRM_OK, trm_runner_step(runner, tokens, 6, NULL, 0, 1, logits, 30, NULL, 0));
    for (int i = 0; i < 30; i++) EXPECT(isfinite(logits[i]), "finite logit %d", i);
    trm_runner_free(runner);
    trm_model_free(NULL);

    /* A stale handle never reaches a newer object, even one that reuses the freed memory: handles are
     * tokens that are never handed out twice. */
    trm_model *first = NULL, *second = NULL;
    for (int round = 0; round < 20; round++) {
        REQUIRE_OK(trm_model_create(&c, 3, &first));
        trm_model_free(first);
        REQUIRE_OK(trm_model_create(&c, 3, &second));
        EXPECT(first != second, "a new model got the freed handle back (round %d)", round);
        int before = warnings;
        trm_model_free(first); /* a double free: a warning, and `second` stays alive */
        EXPECT(warnings == before + 1, "the stale free was not reported (round %d)", round);
        EXPECT_STATUS(TRM_OK, trm_model_parameter_count(second, &(int64_t){0}));
        trm_model_free(second);
    }
}

/* ---- Files: a scratch directory, removed at the end. ---- */
static char scratch[] = "/tmp/trmdis-boundary-XXXXXX";

static void scratch_path(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", scratch, name); }

#define SENTINEL_MODEL ((trm_model *)(uintptr_t)0x5eed)

/* trm_model_load on `path` must fail with `want`, leaving *out alone. */
static void expect_load_fails(int want, const char *path, const char *what) {
    trm_model *out = SENTINEL_MODEL;
    int got = trm_model_load(path, &out);
    EXPECT(got == want && out == SENTINEL_MODEL, "load of %s: status %d (%s), out %s; \"%s\"", what, got,
           trm_status_string(got), out == SENTINEL_MODEL ? "untouched" : "CHANGED", trm_last_error());
    if (got == TRM_OK && out != SENTINEL_MODEL) trm_model_free(out);
}

static void test_model_files(trm_model *model) {
    char path[256], bad[256];
    scratch_path(path, sizeof path, "model.safetensors");
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_save(NULL, path));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_save(model, NULL));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_save(model, ""));
    EXPECT_STATUS(TRM_ERR_IO, trm_model_save(model, "/nonexistent-dir/sub/model.safetensors"));
    EXPECT_STATUS(TRM_OK, trm_model_save(model, path));

    trm_model *out = SENTINEL_MODEL;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_load(NULL, &out));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_load(path, NULL));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_load("", &out));
    EXPECT(out == SENTINEL_MODEL, "out untouched");
    scratch_path(bad, sizeof bad, "missing.safetensors");
    expect_load_fails(TRM_ERR_IO, bad, "a missing file");
    expect_load_fails(TRM_ERR_IO, scratch, "a directory");

    /* Garbage: text, random bytes, a huge header length, a header that is not JSON. */
    scratch_path(bad, sizeof bad, "bad.safetensors");
    const char *text = "this is not a safetensors file";
    write_bytes(bad, text, strlen(text));
    expect_load_fails(TRM_ERR_FORMAT, bad, "text");
    unsigned char noise[4096];
    uint64_t state = 99;
    for (size_t i = 0; i < sizeof noise; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        noise[i] = (unsigned char)(state >> 56);
    }
    write_bytes(bad, noise, sizeof noise);
    expect_load_fails(TRM_ERR_FORMAT, bad, "random bytes");
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    write_bytes(bad, huge, sizeof huge);
    expect_load_fails(TRM_ERR_FORMAT, bad, "a huge header length");
    unsigned char notjson[] = {6, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', '"', ':', '['};
    write_bytes(bad, notjson, sizeof notjson);
    expect_load_fails(TRM_ERR_FORMAT, bad, "a header that is not JSON");
    write_bytes(bad, "", 0);
    expect_load_fails(TRM_ERR_FORMAT, bad, "an empty file");

    /* Truncated copies of a good file, cut everywhere from the length prefix to the last byte. */
    size_t n = 0;
    unsigned char *good = read_bytes(path, &n, 0);
    const size_t cuts[] = {1, 7, 8, 9, 64, n / 3, n / 2, n - 4, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(bad, good, cuts[i]);
        char what[64];
        snprintf(what, sizeof what, "the first %zu of %zu bytes", cuts[i], n);
        expect_load_fails(TRM_ERR_FORMAT, bad, what);
    }
    /* A NaN in the first tensor (a trainable weight): the data section starts after the header. */
    size_t header_end = 8;
    for (int i = 0; i < 8; i++) header_end += (size_t)good[i] << (8 * i);
    memcpy(good + header_end, "\x00\x00\xc0\x7f", 4);
    write_bytes(bad, good, n);
    expect_load_fails(TRM_ERR_FORMAT, bad, "a NaN weight");
    free(good);
    remove(bad);

    trm_model *loaded = NULL;
    EXPECT_STATUS(TRM_OK, trm_model_load(path, &loaded));
    trm_model_config a, b;
    trm_model_config_init(&a);
    trm_model_config_init(&b);
    EXPECT_STATUS(TRM_OK, trm_model_get_config(model, &a));
    EXPECT_STATUS(TRM_OK, trm_model_get_config(loaded, &b));
    EXPECT(same_bytes(&a, &b, sizeof a), "the loaded model has the saved configuration");
    trm_model_free(loaded);
    remove(path);
}

/* ---- Tensors by name and official checkpoints ---- */

static void test_tensors(trm_model *model) {
    int32_t count = -1;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_tensor_count(NULL, &count));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_tensor_count(model, NULL));
    EXPECT_STATUS(TRM_OK, trm_model_tensor_count(model, &count));
    /* embed, lm_head, q w+b, time table, qkv, o, gate_up, down; puzzle table, H_init, L_init */
    EXPECT(count == 12, "12 tensors, got %d", count);
    trm_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_tensor_info(model, -1, &info));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_tensor_info(model, count, &info));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_tensor_info(model, 0, NULL));
    info.struct_size = sizeof info - 8;
    EXPECT_STATUS(TRM_ERR_ABI, trm_model_tensor_info(model, 0, &info));
    info.struct_size = sizeof info;
    EXPECT_STATUS(TRM_OK, trm_model_tensor_info(model, 4, &info));
    EXPECT(strcmp(info.name, "timestep_embed.embedding_weight") == 0 && info.ndim == 2 && info.shape[0] == 6 &&
               info.shape[1] == 16 && info.shape[2] == 0 && info.count == 96,
           "tensor 4: %s [%lld, %lld] %lld", info.name, (long long)info.shape[0], (long long)info.shape[1],
           (long long)info.count);
    float values[96], again[96], nan_values[96];
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_get_tensor(model, NULL, values, 96));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_get_tensor(model, "no.such.tensor", values, 96));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_get_tensor(model, info.name, values, 95));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_get_tensor(model, info.name, NULL, 96));
    EXPECT_STATUS(TRM_OK, trm_model_get_tensor(model, info.name, values, 96));
    memcpy(nan_values, values, sizeof values);
    nan_values[50] = NAN;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_set_tensor(model, info.name, nan_values, 96));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_set_tensor(model, info.name, values, 97));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_set_tensor(model, info.name, NULL, 96));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_set_tensor(NULL, info.name, values, 96));
    EXPECT_STATUS(TRM_OK, trm_model_get_tensor(model, info.name, again, 96));
    EXPECT(same_bytes(values, again, sizeof values), "a refused set_tensor leaves the tensor as it was");
    again[0] += 1.0f;
    EXPECT_STATUS(TRM_OK, trm_model_set_tensor(model, info.name, again, 96));
    EXPECT_STATUS(TRM_OK, trm_model_get_tensor(model, info.name, nan_values, 96));
    EXPECT(nan_values[0] == values[0] + 1.0f, "set_tensor took the new value");
    EXPECT_STATUS(TRM_OK, trm_model_set_tensor(model, info.name, values, 96));
}

static void test_official(trm_model *model) {
    char checkpoint[256], config[256], other[256];
    scratch_path(checkpoint, sizeof checkpoint, "step_10");
    scratch_path(config, sizeof config, "all_config.yaml");
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_export_official(NULL, checkpoint, NULL));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_export_official(model, NULL, NULL));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_export_official(model, checkpoint, ""));
    EXPECT_STATUS(TRM_OK, trm_model_export_official(model, checkpoint, NULL));
    scratch_path(other, sizeof other, "step_11");
    EXPECT_STATUS(TRM_ERR_IO, trm_model_export_official(model, other, NULL)); /* all_config.yaml exists */

    trm_official_params p;
    trm_official_params_init(&p);
    EXPECT(p.struct_size == sizeof p && p.config_yaml == NULL && p.seq_len == 0, "trm_official_params defaults");
    trm_model *out = SENTINEL_MODEL;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_import_official(NULL, &p, &out));
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_import_official(checkpoint, &p, NULL));
    p.struct_size = 3;
    EXPECT_STATUS(TRM_ERR_ABI, trm_model_import_official(checkpoint, &p, &out));
    trm_official_params_init(&p);
    p.seq_len = -1;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_import_official(checkpoint, &p, &out));
    p.seq_len = 0; /* attention + RoPE: not in the weights, and the exported config names no dataset */
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_import_official(checkpoint, NULL, &out));
    p.seq_len = 7;
    EXPECT_STATUS(TRM_OK, trm_model_import_official(checkpoint, &p, &out)); /* another seq_len is another model */
    if (out != SENTINEL_MODEL) trm_model_free(out);
    out = SENTINEL_MODEL;
    EXPECT_STATUS(TRM_ERR_IO, trm_model_import_official(other, &p, &out));   /* no such file */
    EXPECT_STATUS(TRM_ERR_IO, trm_model_import_official(scratch, &p, &out)); /* a directory */
    p.config_yaml = other;
    EXPECT_STATUS(TRM_ERR_IO, trm_model_import_official(checkpoint, &p, &out)); /* no such config */
    p.config_yaml = checkpoint;                                                  /* not YAML */
    EXPECT_STATUS(TRM_ERR_FORMAT, trm_model_import_official(checkpoint, &p, &out));
    p.config_yaml = config;
    EXPECT_STATUS(TRM_ERR_FORMAT, trm_model_import_official(config, &p, &out)); /* not a checkpoint */
    EXPECT(out == SENTINEL_MODEL, "out untouched by failures");

    p.seq_len = 6;
    EXPECT_STATUS(TRM_OK, trm_model_import_official(checkpoint, &p, &out));
    trm_model_config a, b;
    trm_model_config_init(&a);
    trm_model_config_init(&b);
    EXPECT_STATUS(TRM_OK, trm_model_get_config(model, &a));
    EXPECT_STATUS(TRM_OK, trm_model_get_config(out, &b));
    EXPECT(same_bytes(&a, &b, sizeof a), "export then import keeps the configuration");
    int32_t count = 0;
    REQUIRE_OK(trm_model_tensor_count(model, &count));
    int same = 1;
    for (int32_t i = 0; i < count; i++) {
        trm_tensor_info info;
        info.struct_size = sizeof info;
        REQUIRE_OK(trm_model_tensor_info(model, i, &info));
        float *x = malloc((size_t)info.count * sizeof(float)), *y = malloc((size_t)info.count * sizeof(float));
        REQUIRE_OK(trm_model_get_tensor(model, info.name, x, (size_t)info.count));
        REQUIRE_OK(trm_model_get_tensor(out, info.name, y, (size_t)info.count));
        same = same && same_bytes(x, y, (size_t)info.count * sizeof(float));
        free(x);
        free(y);
    }
    EXPECT(same, "export then import keeps every tensor bit for bit");
    trm_model_free(out);
    remove(checkpoint);
    remove(config);
}

/* ---- Datasets ---- */
#define SENTINEL_DATASET ((trm_dataset *)(uintptr_t)0xda7a)

static void test_datasets(void) {
    enum { N = 4, S = 6 };
    int32_t x[N * S], y[N * S], ids[N] = {0, 1, 2, 0};
    for (int i = 0; i < N * S; i++) {
        x[i] = i % 5;
        y[i] = (i + 1) % 5;
    }
    trm_dataset *out = SENTINEL_DATASET;
    const int E = TRM_ERR_INVALID_ARG;
    const size_t nc = N * S;
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, nc, ids, N, NULL));
    EXPECT_STATUS(E, trm_dataset_create(S, NULL, y, nc, ids, N, &out));
    EXPECT_STATUS(E, trm_dataset_create(S, x, NULL, nc, ids, N, &out));
    EXPECT_STATUS(E, trm_dataset_create(0, x, y, nc, ids, N, &out));
    EXPECT_STATUS(E, trm_dataset_create(-S, x, y, nc, ids, N, &out));
    EXPECT_STATUS(E, trm_dataset_create((1 << 20) + 1, x, y, nc, ids, N, &out));
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, 0, ids, 0, &out));
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, nc - 1, ids, N, &out));
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, nc + 1, ids, N, &out));
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, nc, ids, N + 1, &out));
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, SIZE_MAX, ids, SIZE_MAX / 2, &out));
    EXPECT(strstr(trm_last_error(), "n_cells") != NULL, "names n_cells: %s", trm_last_error());
    x[5] = -1;
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, nc, ids, N, &out));
    x[5] = 0;
    y[7] = -5;
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, nc, ids, N, &out));
    y[7] = INT32_MIN;
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, nc, ids, N, &out));
    ids[3] = -2;
    y[7] = -100; /* the ignore label is fine */
    EXPECT_STATUS(E, trm_dataset_create(S, x, y, nc, ids, N, &out));
    ids[3] = 0;
    EXPECT(out == SENTINEL_DATASET, "out untouched");
    EXPECT_STATUS(TRM_OK, trm_dataset_create(S, x, y, nc, ids, N, &out));
    trm_dataset *no_ids = NULL;
    EXPECT_STATUS(TRM_OK, trm_dataset_create(S, x, y, nc, NULL, N, &no_ids));

    int64_t size = -1;
    int32_t seq = -1;
    EXPECT_STATUS(E, trm_dataset_size(NULL, &size));
    EXPECT_STATUS(E, trm_dataset_size(out, NULL));
    EXPECT_STATUS(E, trm_dataset_seq_len(NULL, &seq));
    EXPECT_STATUS(E, trm_dataset_seq_len(out, NULL));
    EXPECT(size == -1 && seq == -1, "untouched");
    EXPECT_STATUS(TRM_OK, trm_dataset_size(out, &size));
    EXPECT_STATUS(TRM_OK, trm_dataset_seq_len(out, &seq));
    EXPECT(size == N && seq == S, "size %lld, seq_len %d", (long long)size, seq);

    trm_dataset *loaded = SENTINEL_DATASET;
    EXPECT_STATUS(E, trm_dataset_load(NULL, "train", &loaded));
    EXPECT_STATUS(E, trm_dataset_load(scratch, NULL, &loaded));
    EXPECT_STATUS(E, trm_dataset_load(scratch, "train", NULL));
    EXPECT_STATUS(E, trm_dataset_load("", "train", &loaded));
    EXPECT_STATUS(E, trm_dataset_load(scratch, "", &loaded));
    EXPECT_STATUS(E, trm_dataset_load(scratch, "..", &loaded));
    EXPECT_STATUS(E, trm_dataset_load(scratch, "a/b", &loaded));
    EXPECT_STATUS(TRM_ERR_IO, trm_dataset_load(scratch, "train", &loaded));
    EXPECT_STATUS(TRM_ERR_IO, trm_dataset_load("/nonexistent-dataset", "test", &loaded));
    const char *paths[2] = {scratch, NULL};
    EXPECT_STATUS(E, trm_dataset_load_paths(NULL, 1, "train", &loaded));
    EXPECT_STATUS(E, trm_dataset_load_paths(paths, 0, "train", &loaded));
    EXPECT_STATUS(E, trm_dataset_load_paths(paths, 2, "train", &loaded)); /* a NULL entry */
    EXPECT_STATUS(E, trm_dataset_load_paths(paths, 1, "..", &loaded));
    EXPECT_STATUS(E, trm_dataset_load_paths(paths, 1, "train", NULL));
    EXPECT_STATUS(TRM_ERR_IO, trm_dataset_load_paths(paths, 1, "train", &loaded));
    EXPECT(loaded == SENTINEL_DATASET, "out untouched");

    /* Wrong kinds and double frees. */
    EXPECT_STATUS(E, trm_dataset_size((trm_dataset *)(void *)&size, &size));
    int before = warnings;
    trm_dataset_free(out);
    trm_dataset_free(out);
    EXPECT(warnings == before + 1, "a warning for the double free");
    EXPECT_STATUS(E, trm_dataset_size(out, &size));
    trm_dataset_free(no_ids);
    trm_dataset_free(NULL);
}

/* ---- Inference ---- */
/* A predict progress callback: records `done` into progress_log, stops after stop_after batches (0: never). */
static int64_t *progress_log;
static int64_t stop_after = 0;
static bool record_progress(int64_t done, int64_t total, void *user_data) {
    int64_t *count = user_data;
    (void)total;
    if (*count < 8) progress_log[*count] = done;
    (*count)++;
    return stop_after == 0 || *count < stop_after;
}

static void test_predict(trm_model *model, trm_dataset *data) {
    trm_model_config c = tiny_config();
    enum { N = 3 };
    const int steps = c.supervision_steps;
    size_t nc = (size_t)N * (size_t)c.seq_len, nt = (size_t)steps * nc, nh = (size_t)steps * N,
           nl = nc * (size_t)c.vocab_size;
    int32_t x[3 * 6], ids[N] = {0, 1, 2}, trace[4 * 3 * 6], sentinel_trace[4 * 3 * 6];
    float halt[4 * 3], logits[3 * 6 * 5], sentinel_halt[4 * 3], sentinel_logits[3 * 6 * 5];
    for (size_t i = 0; i < nc; i++) x[i] = (int32_t)(i % 5);
    for (size_t i = 0; i < nt; i++) trace[i] = sentinel_trace[i] = -3;
    for (size_t i = 0; i < nh; i++) halt[i] = sentinel_halt[i] = -3;
    for (size_t i = 0; i < nl; i++) logits[i] = sentinel_logits[i] = -3;

    trm_predict_params_init(NULL);
    trm_predict_params p, good;
    trm_predict_params_init(&good);
    EXPECT(good.struct_size == sizeof good && good.steps == 0 && good.guidance == 1.0f && good.feedback == -1 &&
               good.batch_size == 0, "predict defaults");

#define PREDICT_FAILS(want, params, ...)                                                            \
    do {                                                                                            \
        EXPECT_STATUS(want, trm_model_predict(model, params, __VA_ARGS__));                         \
        EXPECT(same_bytes(trace, sentinel_trace, sizeof trace) && same_bytes(halt, sentinel_halt, sizeof halt) && \
                   same_bytes(logits, sentinel_logits, sizeof logits),                              \
               "outputs untouched after %s", #__VA_ARGS__);                                         \
    } while (0)
#define WITH_PARAM(field, value, want)                                                              \
    do {                                                                                            \
        p = good;                                                                                   \
        p.field = (value);                                                                          \
        PREDICT_FAILS(want, &p, x, nc, ids, N, trace, nt, halt, nh, logits, nl);                     \
    } while (0)
    const int E = TRM_ERR_INVALID_ARG;
    WITH_PARAM(struct_size, 0, TRM_ERR_ABI);
    WITH_PARAM(struct_size, sizeof good + 4, TRM_ERR_ABI);
    WITH_PARAM(steps, -1, E);
    WITH_PARAM(steps, 4097, E);
    WITH_PARAM(guidance, NAN, E);
    WITH_PARAM(guidance, INFINITY, E);
    WITH_PARAM(feedback, 2, E);
    WITH_PARAM(feedback, -2, E);
    WITH_PARAM(batch_size, -1, E);
    WITH_PARAM(batch_size, (1 << 20) + 1, E);
    WITH_PARAM(steps, 2, E); /* valid, but then the trace and halt buffers have the wrong length */
#undef WITH_PARAM
    EXPECT_STATUS(E, trm_model_predict(NULL, &good, x, nc, ids, N, trace, nt, halt, nh, logits, nl));
    PREDICT_FAILS(E, &good, NULL, nc, ids, N, trace, nt, halt, nh, logits, nl);
    PREDICT_FAILS(E, &good, x, nc, ids, 0, trace, nt, halt, nh, logits, nl);
    PREDICT_FAILS(E, &good, x, nc - 1, ids, N, trace, nt, halt, nh, logits, nl);
    PREDICT_FAILS(E, &good, x, nc, ids, N - 1, trace, nt, halt, nh, logits, nl);
    PREDICT_FAILS(E, &good, x, SIZE_MAX, ids, SIZE_MAX, trace, nt, halt, nh, logits, nl);
    PREDICT_FAILS(E, &good, x, nc, ids, N, trace, nt + 1, halt, nh, logits, nl);
    PREDICT_FAILS(E, &good, x, nc, ids, N, trace, nt, halt, nh - 1, logits, nl);
    PREDICT_FAILS(E, &good, x, nc, ids, N, trace, nt, halt, nh, logits, nl + 5);
    PREDICT_FAILS(E, &good, x, nc, ids, N, NULL, nt, halt, nh, logits, nl);
    PREDICT_FAILS(E, &good, x, nc, ids, N, trace, nt, NULL, nh, logits, nl);
    PREDICT_FAILS(E, &good, x, nc, ids, N, trace, nt, halt, nh, NULL, nl);
    x[nc - 1] = 5;
    PREDICT_FAILS(E, &good, x, nc, ids, N, trace, nt, halt, nh, logits, nl);
    x[nc - 1] = -1;
    PREDICT_FAILS(E, &good, x, nc, ids, N, trace, nt, halt, nh, logits, nl);
    x[nc - 1] = 0;
    ids[2] = 3;
    p = good;
    p.batch_size = 1; /* the bad id is in the last batch: still nothing written */
    PREDICT_FAILS(E, &p, x, nc, ids, N, trace, nt, halt, nh, logits, nl);
    ids[2] = 2;

    EXPECT_STATUS(TRM_OK, trm_model_predict(model, &good, x, nc, ids, N, trace, nt, halt, nh, logits, nl));
    EXPECT_STATUS(TRM_OK, trm_model_predict(model, NULL, x, nc, NULL, N, NULL, 0, NULL, 0, NULL, 0));
    for (size_t i = 0; i < nt; i++) EXPECT(trace[i] >= 0 && trace[i] < c.vocab_size, "trace[%zu] = %d", i, trace[i]);
    for (size_t i = 0; i < nh; i++) EXPECT(halt[i] >= 0 && halt[i] <= 1, "halt[%zu] = %f", i, halt[i]);
    for (size_t i = 0; i < nl; i++) EXPECT(isfinite(logits[i]), "logits[%zu]", i);
    /* Batch by batch gives the same predictions as all at once. */
    int32_t trace1[4 * 3 * 6];
    p = good;
    p.batch_size = 1;
    EXPECT_STATUS(TRM_OK, trm_model_predict(model, &p, x, nc, ids, N, trace1, nt, NULL, 0, NULL, 0));
    EXPECT(same_bytes(trace, trace1, sizeof trace), "batch size 1 gives the same trace");
#undef PREDICT_FAILS

    /* Evaluation. */
    trm_eval_result r, sentinel;
    memset(&r, 0x5a, sizeof r);
    r.struct_size = sizeof r;
    sentinel = r;
    EXPECT_STATUS(E, trm_model_evaluate(NULL, data, NULL, &r));
    EXPECT_STATUS(E, trm_model_evaluate(model, NULL, NULL, &r));
    EXPECT_STATUS(E, trm_model_evaluate(model, data, NULL, NULL));
    EXPECT_STATUS(E, trm_model_evaluate(model, (trm_dataset *)(void *)model, NULL, &r));
    p = good;
    p.steps = TRM_EVAL_MAX_STEPS + 1;
    EXPECT_STATUS(E, trm_model_evaluate(model, data, &p, &r));
    p.struct_size = 1;
    EXPECT_STATUS(TRM_ERR_ABI, trm_model_evaluate(model, data, &p, &r));
    EXPECT(same_bytes(&r, &sentinel, sizeof r), "result untouched");
    r.struct_size = sizeof r - 8;
    EXPECT_STATUS(TRM_ERR_ABI, trm_model_evaluate(model, data, NULL, &r));
    r.struct_size = sizeof r;
    p = good;
    p.steps = TRM_EVAL_MAX_STEPS;
    EXPECT_STATUS(TRM_OK, trm_model_evaluate(model, data, &p, &r));
    EXPECT(r.n_steps == TRM_EVAL_MAX_STEPS && r.examples == 4, "n_steps %d, examples %lld", r.n_steps,
           (long long)r.examples);
    EXPECT_STATUS(TRM_OK, trm_model_evaluate(model, data, NULL, &r));
    EXPECT(r.struct_size == sizeof r && r.n_steps == c.supervision_steps, "n_steps %d", r.n_steps);
    EXPECT(r.exact_accuracy == r.exact_by_step[r.n_steps - 1], "last step is the result");

    /* A dataset whose sequences do not fit the model. */
    int32_t long_x[8] = {0}, long_y[8] = {0};
    trm_dataset *other = NULL;
    REQUIRE_OK(trm_dataset_create(8, long_x, long_y, 8, NULL, 1, &other));
    EXPECT_STATUS(E, trm_model_evaluate(model, other, NULL, &r));
    EXPECT(strstr(trm_last_error(), "sequence length") != NULL, "%s", trm_last_error());
    trm_dataset_free(other);

    /* The progress callback sees every batch and can stop the call after one. */
    int64_t seen[8], count = 0;
    p = good;
    p.batch_size = 1;
    p.progress = record_progress;
    p.progress_user_data = &count;
    progress_log = seen;
    EXPECT_STATUS(TRM_OK, trm_model_evaluate(model, data, &p, &r));
    EXPECT(count == 4 && seen[0] == 1 && seen[3] == 4, "evaluate reported %lld batches", (long long)count);
    count = 0;
    stop_after = 2;
    EXPECT_STATUS(TRM_ERR_ABORTED, trm_model_predict(model, &p, x, nc, ids, N, NULL, 0, NULL, 0, NULL, 0));
    EXPECT(count == 2 && strstr(trm_last_error(), "2 of 3") != NULL, "%lld: %s", (long long)count, trm_last_error());
    stop_after = 0;
}

/* ---- Training ---- */
#define SENTINEL_TRAINER ((trm_trainer *)(uintptr_t)0x7a1e)

static int callback_calls = 0;
static int stop_at = 0;
static volatile int first_step_done = 0;
static trm_trainer *signalled = NULL;

static bool count_steps(const trm_step_info *info, void *user_data) {
    callback_calls++;
    if (user_data != NULL) *(int64_t *)user_data = info->step;
    first_step_done = 1;
    if (signalled != NULL && info->step == 2) raise(SIGUSR1); /* the handler asks the trainer to stop */
    return stop_at == 0 || info->step < stop_at;
}

static void on_sigusr1(int signal_number) {
    (void)signal_number;
    trm_trainer_request_stop(signalled); /* async-signal-safe */
}

static void *stop_when_running(void *trainer) {
    while (!first_step_done) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    return (void *)(intptr_t)trm_trainer_request_stop(trainer);
}

/* Data-parallel callbacks with world_size 1: the sum over one rank is the buffer itself. */
typedef struct allreduce_log {
    int calls;
    size_t largest;
    int fail_with;
} allreduce_log;

static int log_allreduce(void *user_data, float *data, size_t count) {
    allreduce_log *log = user_data;
    log->calls++;
    if (count > log->largest) log->largest = count;
    (void)data;
    return log->fail_with;
}

/* trm_trainer_create with one params field changed must fail with `want`. */
static void expect_trainer_fails(int want, trm_model *model, trm_dataset *train, trm_dataset *eval,
                                 trm_train_params p, const char *what) {
    trm_trainer *out = SENTINEL_TRAINER;
    int got = trm_trainer_create(model, train, eval, &p, &out);
    EXPECT(got == want && out == SENTINEL_TRAINER, "trainer_create with %s: status %d (%s), out %s; \"%s\"", what,
           got, trm_status_string(got), out == SENTINEL_TRAINER ? "untouched" : "CHANGED", trm_last_error());
    if (got == TRM_OK && out != SENTINEL_TRAINER) trm_trainer_free(out);
}

static void test_trainer(trm_model *model, trm_dataset *data) {
    trm_train_params_init(NULL);
    trm_train_params good, p;
    trm_train_params_init(&good);
    EXPECT(good.struct_size == sizeof good && good.method == TRM_METHOD_DIS && good.batch_size == 64 &&
               good.max_steps == 0 && good.progress == NULL && good.checkpoint_dir == NULL,
           "train defaults");
    good.batch_size = 2;
    good.learning_rate = 1e-3f;
    good.warmup_steps = 2;
    const int E = TRM_ERR_INVALID_ARG;
    trm_trainer *out = SENTINEL_TRAINER;
    EXPECT_STATUS(E, trm_trainer_create(NULL, data, NULL, &good, &out));
    EXPECT_STATUS(E, trm_trainer_create(model, NULL, NULL, &good, &out));
    EXPECT_STATUS(E, trm_trainer_create(model, data, NULL, &good, NULL));
    EXPECT_STATUS(E, trm_trainer_create(model, (trm_dataset *)(void *)model, NULL, &good, &out));
    EXPECT_STATUS(E, trm_trainer_create((trm_model *)(void *)data, data, NULL, &good, &out));
    EXPECT(out == SENTINEL_TRAINER, "out untouched");

#define WITH(field, value, want, eval)                                                              \
    do {                                                                                            \
        p = good;                                                                                   \
        p.field = (value);                                                                          \
        expect_trainer_fails(want, model, data, eval, p, #field " = " #value);                      \
    } while (0)
    WITH(struct_size, 0, TRM_ERR_ABI, NULL);
    WITH(struct_size, sizeof good - 8, TRM_ERR_ABI, NULL);
    WITH(struct_size, SIZE_MAX, TRM_ERR_ABI, NULL);
    WITH(method, 2, E, NULL);
    WITH(batch_size, 0, E, NULL);
    WITH(batch_size, -4, E, NULL);
    WITH(loss, 9, E, NULL);
    WITH(optimizer, -1, E, NULL);
    WITH(learning_rate, NAN, E, NULL);
    WITH(learning_rate, -INFINITY, E, NULL);
    WITH(warmup_steps, -1, E, NULL);
    WITH(total_steps, 0, E, NULL);
    WITH(total_steps, INT64_MAX, E, NULL);
    WITH(min_lr_ratio, NAN, E, NULL);
    WITH(beta1, 1.0f, E, NULL);
    WITH(beta2, -0.1f, E, NULL);
    WITH(weight_decay, NAN, E, NULL);
    WITH(puzzle_emb_lr, INFINITY, E, NULL);
    WITH(puzzle_emb_weight_decay, -1.0f, E, NULL);
    WITH(grad_clip, -1.0f, E, NULL);
    WITH(ema_rate, 1.0f, E, NULL);
    WITH(ema_rate, NAN, E, NULL);
    WITH(corruption, 4, E, NULL);
    p = good;
    p.corruption = TRM_CORRUPTION_MASK;
    p.mask_token = 5; /* vocabulary 0...4 */
    expect_trainer_fails(E, model, data, NULL, p, "mask_token outside the vocabulary");
    WITH(feedback_predictions, 2, E, NULL);
    WITH(step_weights, 2, E, NULL);
    WITH(optimizer_step_per_supervision_step, -1, E, NULL);
    WITH(halt_exploration_prob, 1.5f, E, NULL);
    WITH(halt_loss_weight, NAN, E, NULL);
    WITH(max_steps, -1, E, NULL);
    WITH(max_seconds, NAN, E, NULL);
    WITH(max_seconds, -1.0, E, NULL);
    WITH(eval_every, 1, E, NULL); /* no evaluation dataset */
    WITH(eval_limit, -1, E, data);
    WITH(checkpoint_every, 1, E, NULL); /* no checkpoint_dir */
    WITH(checkpoint_dir, "", E, NULL);
    WITH(world_size, 0, E, NULL);
    WITH(world_size, 65537, E, NULL);
    WITH(rank, -1, E, NULL);
    WITH(rank, 1, E, NULL);                /* world_size 1 */
    WITH(world_size, 2, E, NULL);          /* allreduce is NULL */
    p = good;
    p.world_size = 3;                      /* batch_size 2: a rank would have no example */
    p.allreduce = log_allreduce;
    expect_trainer_fails(E, model, data, NULL, p, "world_size above batch_size");
#undef WITH

    /* The allreduce callback: called with the gradients (and more) on every step; an error return fails the
       step with TRM_ERR_IO and a message naming it, without a crash; the trainer stays freeable. */
    {
        allreduce_log log = {0, 0, 0};
        trm_trainer *dp = NULL;
        int64_t params_count = 0;
        REQUIRE_OK(trm_model_parameter_count(model, &params_count));
        p = good;
        p.allreduce = log_allreduce;
        p.allreduce_user_data = &log;
        REQUIRE_OK(trm_trainer_create(model, data, NULL, &p, &dp));
        trm_step_info info;
        info.struct_size = sizeof info;
        EXPECT_STATUS(TRM_OK, trm_trainer_step(dp, &info));
        EXPECT(log.calls >= 2 && log.largest > (size_t)params_count, "allreduce calls %d, largest %zu", log.calls,
               log.largest);
        log.fail_with = 7;
        EXPECT_STATUS(TRM_ERR_IO, trm_trainer_step(dp, &info));
        EXPECT(strstr(trm_last_error(), "allreduce callback returned 7 on rank 0 of 1") != NULL, "%s",
               trm_last_error());
        trm_trainer_free(dp);
    }

    /* A working trainer: steps, runs, stops. */
    trm_trainer *t = NULL;
    int64_t last_step = 0;
    p = good;
    p.max_steps = 3;
    p.progress = count_steps;
    p.progress_user_data = &last_step;
    p.ema_rate = 0.5f;
    REQUIRE_OK(trm_trainer_create(model, data, data, &p, &t));
    trm_model *borrowed = NULL;
    EXPECT_STATUS(E, trm_trainer_model(NULL, &borrowed));
    EXPECT_STATUS(E, trm_trainer_model(t, NULL));
    EXPECT_STATUS(TRM_OK, trm_trainer_model(t, &borrowed));
    EXPECT(borrowed == model, "the trainer's model is the one it was given");

    trm_step_info info;
    memset(&info, 0x11, sizeof info);
    trm_step_info info_copy = info;
    EXPECT_STATUS(E, trm_trainer_step(NULL, &info));
    EXPECT_STATUS(TRM_ERR_ABI, trm_trainer_step(t, &info)); /* struct_size is garbage */
    EXPECT(same_bytes(&info, &info_copy, sizeof info), "info untouched");
    info.struct_size = sizeof info;
    EXPECT_STATUS(TRM_OK, trm_trainer_step(t, &info));
    EXPECT(info.step == 1 && info.total_steps == 1 && info.optimizer_steps == 4 && info.examples_seen == 2 &&
               info.finished == 2 && isnan(info.halt_accuracy) && isnan(info.mean_steps) && info.has_eval == 0 &&
               isfinite(info.loss),
           "step info: step %lld, updates %lld, seen %lld", (long long)info.step, (long long)info.optimizer_steps,
           (long long)info.examples_seen);
    EXPECT_STATUS(TRM_OK, trm_trainer_step(t, NULL));

    trm_eval_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = 12;
    EXPECT_STATUS(E, trm_trainer_run(NULL, &r));
    EXPECT_STATUS(TRM_ERR_ABI, trm_trainer_run(t, &r));
    EXPECT(callback_calls == 0, "no step ran");
    r.struct_size = sizeof r;
    EXPECT_STATUS(TRM_OK, trm_trainer_run(t, &r));
    EXPECT(callback_calls == 3 && last_step == 3 && r.examples == 4, "3 steps and a final evaluation");

    stop_at = 2; /* the callback returns false at step 2 */
    callback_calls = 0;
    EXPECT_STATUS(TRM_ERR_ABORTED, trm_trainer_run(t, NULL));
    EXPECT(callback_calls == 2 && strstr(trm_last_error(), "callback") != NULL, "stopped by the callback: %s",
           trm_last_error());
    stop_at = 0;

    /* request_stop: NULL and other kinds are refused; before a run, the run stops before its first step. */
    EXPECT(trm_trainer_request_stop(NULL) == E, "NULL refused");
    EXPECT(trm_trainer_request_stop((trm_trainer *)(void *)model) == E, "a model is not a trainer");
    EXPECT(trm_trainer_request_stop((trm_trainer *)(uintptr_t)0x10) == E, "garbage refused");
    EXPECT(trm_trainer_request_stop(t) == TRM_OK, "request_stop");
    callback_calls = 0;
    EXPECT_STATUS(TRM_ERR_ABORTED, trm_trainer_run(t, NULL));
    EXPECT(callback_calls == 0, "stopped before the first step");
    EXPECT_STATUS(TRM_OK, trm_trainer_run(t, NULL)); /* the request was cleared */
    EXPECT(callback_calls == 3, "a full run after the cleared request");

    /* From another thread, while running; then from a signal handler on this thread. */
    trm_trainer *long_run = NULL;
    p.max_steps = 0; /* unbounded: only a stop ends it */
    p.max_seconds = 120;
    p.progress_user_data = NULL;
    REQUIRE_OK(trm_trainer_create(model, data, NULL, &p, &long_run));
    pthread_t thread;
    void *thread_status = NULL;
    first_step_done = 0;
    REQUIRE_OK(pthread_create(&thread, NULL, stop_when_running, long_run));
    EXPECT_STATUS(TRM_ERR_ABORTED, trm_trainer_run(long_run, NULL));
    pthread_join(thread, &thread_status);
    EXPECT((intptr_t)thread_status == TRM_OK, "request_stop from the other thread");
    EXPECT(strstr(trm_last_error(), "trm_trainer_request_stop") != NULL, "%s", trm_last_error());
    signal(SIGUSR1, on_sigusr1);
    signalled = long_run;
    callback_calls = 0;
    EXPECT_STATUS(TRM_ERR_ABORTED, trm_trainer_run(long_run, NULL));
    EXPECT(callback_calls == 2, "stopped by the signal handler after step 2 (%d steps)", callback_calls);
    signalled = NULL;
    signal(SIGUSR1, SIG_DFL);
    trm_trainer_free(long_run);
    EXPECT(trm_trainer_request_stop(long_run) == E, "a freed trainer is refused");

    /* Evaluation with the trainer's weights. */
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    EXPECT_STATUS(E, trm_trainer_evaluate(NULL, NULL, &r));
    EXPECT_STATUS(E, trm_trainer_evaluate(t, NULL, NULL));
    EXPECT_STATUS(E, trm_trainer_evaluate(t, (trm_dataset *)(void *)model, &r));
    EXPECT_STATUS(TRM_OK, trm_trainer_evaluate(t, NULL, &r));
    EXPECT(r.examples == 4 && r.n_steps == 4, "evaluated 4 examples over 4 steps");

    /* Checkpoints and resume. */
    char dir[128], state[300], bad_dir[128], bad_state[300];
    scratch_path(dir, sizeof dir, "ckpt");
    snprintf(state, sizeof state, "%s/state.safetensors", dir);
    EXPECT_STATUS(E, trm_trainer_save_checkpoint(NULL, dir));
    EXPECT_STATUS(E, trm_trainer_save_checkpoint(t, NULL));
    EXPECT_STATUS(E, trm_trainer_save_checkpoint(t, ""));
    EXPECT_STATUS(TRM_ERR_IO, trm_trainer_save_checkpoint(t, "/proc/trmdis-cannot-be-here"));
    EXPECT_STATUS(TRM_OK, trm_trainer_save_checkpoint(t, dir));

    trm_trainer *resumed = SENTINEL_TRAINER;
    EXPECT_STATUS(E, trm_trainer_resume(NULL, data, NULL, NULL, &resumed));
    EXPECT_STATUS(E, trm_trainer_resume(dir, NULL, NULL, NULL, &resumed));
    EXPECT_STATUS(E, trm_trainer_resume(dir, data, NULL, NULL, NULL));
    EXPECT_STATUS(E, trm_trainer_resume("", data, NULL, NULL, &resumed));
    p = good;
    p.struct_size = 8;
    EXPECT_STATUS(TRM_ERR_ABI, trm_trainer_resume(dir, data, NULL, &p, &resumed));
    p = good;
    p.eval_every = 1;
    EXPECT_STATUS(E, trm_trainer_resume(dir, data, NULL, &p, &resumed)); /* no evaluation dataset */
    scratch_path(bad_dir, sizeof bad_dir, "missing-ckpt");
    EXPECT_STATUS(TRM_ERR_IO, trm_trainer_resume(bad_dir, data, NULL, NULL, &resumed));
    scratch_path(bad_dir, sizeof bad_dir, "bad-ckpt");
    mkdir(bad_dir, 0755);
    snprintf(bad_state, sizeof bad_state, "%s/state.safetensors", bad_dir);
    write_bytes(bad_state, "garbage garbage garbage", 23);
    EXPECT_STATUS(TRM_ERR_FORMAT, trm_trainer_resume(bad_dir, data, NULL, NULL, &resumed));
    size_t n = 0;
    unsigned char *bytes = read_bytes(state, &n, 0);
    const size_t cuts[] = {8, 100, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(bad_state, bytes, cuts[i]);
        int got = trm_trainer_resume(bad_dir, data, NULL, NULL, &resumed);
        EXPECT(got == TRM_ERR_FORMAT, "resume from the first %zu of %zu bytes: %d (%s)", cuts[i], n, got,
               trm_last_error());
    }
    free(bytes);
    remove(bad_state);
    rmdir(bad_dir);
    /* Another dataset of the same shapes: refused unless allowed (the checkpoint records a fingerprint). */
    int32_t other_x[24], other_y[24];
    for (int i = 0; i < 24; i++) {
        other_x[i] = (i * 2) % 5;
        other_y[i] = (i + 1) % 5;
    }
    trm_dataset *shifted = NULL;
    REQUIRE_OK(trm_dataset_create(6, other_x, other_y, 24, NULL, 4, &shifted));
    EXPECT_STATUS(E, trm_trainer_resume(dir, shifted, NULL, NULL, &resumed));
    EXPECT(strstr(trm_last_error(), "other examples") != NULL, "%s", trm_last_error());
    p = good;
    p.allow_other_dataset = 2;
    EXPECT_STATUS(E, trm_trainer_resume(dir, shifted, NULL, &p, &resumed));
    p.allow_other_dataset = 1;
    EXPECT_STATUS(TRM_OK, trm_trainer_resume(dir, shifted, NULL, &p, &resumed));
    trm_trainer_free(resumed);
    resumed = SENTINEL_TRAINER;
    trm_dataset_free(shifted);
    /* A checkpoint directory that cannot be created fails before the first step. */
    char blocker[160], blocked_dir[200];
    scratch_path(blocker, sizeof blocker, "blocker");
    write_bytes(blocker, "x", 1);
    snprintf(blocked_dir, sizeof blocked_dir, "%s/ckpt", blocker);
    p = good;
    p.max_steps = 2;
    p.checkpoint_dir = blocked_dir;
    p.progress = count_steps;
    last_step = 0;
    p.progress_user_data = &last_step;
    trm_trainer *blocked = NULL;
    REQUIRE_OK(trm_trainer_create(model, data, NULL, &p, &blocked));
    EXPECT_STATUS(TRM_ERR_IO, trm_trainer_run(blocked, NULL));
    EXPECT(last_step == 0, "a step ran before the checkpoint directory was checked (step %lld)", (long long)last_step);
    trm_trainer_free(blocked);
    remove(blocker);
    int32_t long_x[8] = {0}, long_y[8] = {0};
    trm_dataset *other = NULL;
    REQUIRE_OK(trm_dataset_create(8, long_x, long_y, 8, NULL, 1, &other));
    EXPECT_STATUS(E, trm_trainer_resume(dir, other, NULL, NULL, &resumed)); /* sequence length 8, not 6 */
    EXPECT_STATUS(E, trm_trainer_resume(dir, data, other, NULL, &resumed));
    EXPECT_STATUS(E, trm_trainer_create(model, other, NULL, &good, &out));
    EXPECT_STATUS(E, trm_trainer_create(model, data, other, &good, &out));
    trm_dataset_free(other);
    EXPECT(resumed == SENTINEL_TRAINER && out == SENTINEL_TRAINER, "out untouched");

    EXPECT_STATUS(TRM_OK, trm_trainer_resume(dir, data, data, NULL, &resumed));
    trm_model *resumed_model = NULL;
    EXPECT_STATUS(TRM_OK, trm_trainer_model(resumed, &resumed_model));
    EXPECT(resumed_model != model && resumed_model != NULL, "a new model");
    /* The resumed trainer continues exactly as the original: one step each gives the same loss. */
    trm_step_info a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
    EXPECT_STATUS(TRM_OK, trm_trainer_step(t, &a));
    EXPECT_STATUS(TRM_OK, trm_trainer_step(resumed, &b));
    EXPECT(a.loss == b.loss && a.optimizer_steps == b.optimizer_steps, "same step after resume: %.9g vs %.9g",
           a.loss, b.loss);
    int64_t count = 0;
    EXPECT_STATUS(TRM_OK, trm_model_parameter_count(resumed_model, &count));
    trm_trainer_free(resumed);
    EXPECT_STATUS(E, trm_model_parameter_count(resumed_model, &count)); /* went with its trainer */
    remove(state);
    snprintf(state, sizeof state, "%s/model.safetensors", dir);
    remove(state);
    rmdir(dir);

    /* The model outlives the caller's handle while a trainer holds it. */
    trm_model_config c = tiny_config();
    trm_model *own = NULL;
    REQUIRE_OK(trm_model_create(&c, 9, &own));
    trm_trainer *holder = NULL;
    REQUIRE_OK(trm_trainer_create(own, data, NULL, &good, &holder));
    trm_model_free(own);
    EXPECT_STATUS(TRM_OK, trm_trainer_step(holder, NULL));
    EXPECT_STATUS(TRM_OK, trm_trainer_model(holder, &borrowed));
    EXPECT_STATUS(TRM_OK, trm_model_parameter_count(borrowed, &count));
    trm_trainer_free(holder);
    EXPECT_STATUS(E, trm_model_parameter_count(borrowed, &count));

    int before = warnings;
    trm_trainer_free(t);
    trm_trainer_free(t);
    trm_trainer_free((trm_trainer *)(void *)model); /* not a trainer: ignored */
    EXPECT(warnings == before + 2, "warnings for the double free and the wrong kind");
    EXPECT_STATUS(TRM_OK, trm_model_parameter_count(model, &count)); /* the caller's model is still live */
    trm_trainer_free(NULL);
}

/* Errors are per thread: a failure on another thread leaves this thread's message alone. */
static void *fail_elsewhere(void *arg) {
    (void)arg;
    trm_model_config_preset("elsewhere", NULL);
    return strstr(trm_last_error(), "config is NULL") != NULL ? (void *)1 : NULL;
}

static void test_thread_local_errors(void) {
    trm_model_config c;
    EXPECT_STATUS(TRM_ERR_INVALID_ARG, trm_model_config_preset("here", &c));
    pthread_t thread;
    void *result = NULL;
    REQUIRE_OK(pthread_create(&thread, NULL, fail_elsewhere, NULL));
    pthread_join(thread, &result);
    EXPECT(result == (void *)1, "the other thread saw its own message");
    EXPECT(strstr(trm_last_error(), "\"here\"") != NULL, "this thread's message kept: %s", trm_last_error());
}

int main(void) {
    int log_lines = 0;
    trm_log_set(NULL, NULL);
    trm_log_set(on_log, &log_lines);

    test_versions_and_strings();
    test_threads();
    test_config_functions();
    test_model_create();

    trm_model_config c = tiny_config();
    trm_model *model = NULL;
    REQUIRE_OK(trm_model_create(&c, 1, &model));
    test_model_queries(model);
    test_runner_create(model);
    test_runner_step(model);
    if (mkdtemp(scratch) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_model_files(model);
    test_tensors(model);
    test_official(model);
    test_datasets();
    /* 4 examples of the tiny model's 6 tokens (vocabulary 0...4), puzzle ids 0...2. */
    int32_t x[24], y[24], ids[4] = {0, 1, 2, 1};
    for (int i = 0; i < 24; i++) {
        x[i] = i % 5;
        y[i] = (i * 3) % 5;
    }
    y[0] = -100;
    trm_dataset *data = NULL;
    REQUIRE_OK(trm_dataset_create(6, x, y, 24, ids, 4, &data));
    test_predict(model, data);
    test_trainer(model, data);
    trm_dataset_free(data);
    char cleanup[160];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", scratch); /* checkpoints hold generations and links */
    if (system(cleanup) != 0) fprintf(stderr, "could not remove %s\n", scratch);
    trm_model_free(model);
    test_lifetimes();
    test_thread_local_errors();

    EXPECT(log_lines == warnings && log_lines >= 2, "log lines %d, warnings %d", log_lines, warnings);
    trm_log_set(NULL, NULL);
    printf("boundary_test: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
