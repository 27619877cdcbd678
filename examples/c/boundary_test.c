/* Boundary test: every function of trmdis.h called with NULL pointers, wrong struct sizes, huge and
 * negative sizes, wrong buffer lengths and out-of-range ids. Each call must return the documented status,
 * leave out-parameters and buffers untouched, and never crash. Exits non-zero on any failed expectation. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trmdis.h"

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
    for (int s = TRM_OK; s <= TRM_ERR_INTERNAL; s++)
        EXPECT(trm_status_string(s) != NULL && strcmp(trm_status_string(s), "unknown status") != 0, "status %d", s);
    EXPECT(strcmp(trm_status_string(TRM_OK), "ok") == 0, "%s", trm_status_string(TRM_OK));
    const int odd[] = {-1, 8, 1000, INT32_MIN, INT32_MAX};
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
    trm_model_free(model);
    test_lifetimes();
    test_thread_local_errors();

    EXPECT(log_lines == warnings && log_lines >= 2, "log lines %d, warnings %d", log_lines, warnings);
    trm_log_set(NULL, NULL);
    printf("boundary_test: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
