/* Fuzz test: seeded random and hostile arguments through the C API (configurations, runner steps,
 * predictions, datasets) and randomly damaged model and dataset files. Every call must return TRM_OK or
 * an error status with a message, leave out-parameters and output buffers untouched when it fails, and
 * never crash. `./fuzz_test [rounds]` (default 300); under valgrind: `make valgrind`.
 * Complements boundary_test.c, which checks each documented error case one by one. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trmdis.h"
#include "test_files.h"

static int failures = 0, checks = 0, accepted = 0, refused = 0;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: expected %s: ", __FILE__, __LINE__, #cond);                    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* A status is fine when it is OK, or an error that comes with a message. */
static void expect_status(int status, const char *what, int round) {
    if (status == TRM_OK) {
        accepted++;
        return;
    }
    refused++;
    EXPECT(status > 0 && trm_status_string(status) != NULL && trm_last_error()[0] != '\0',
           "%s (round %d): status %d without a message", what, round, status);
}

/* ---- Seeded randomness (xorshift64*) ---- */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static int64_t uniform(int64_t lo, int64_t hi) { return lo + (int64_t)(next_u64() % (uint64_t)(hi - lo + 1)); }
static int chance(int percent) { return uniform(0, 99) < percent; }

/* Mostly small sane values; otherwise the edges C code gets wrong. */
static int32_t hostile_i32(int32_t lo, int32_t hi) {
    static const int32_t edges[] = {0, -1, 1, INT32_MAX, INT32_MIN, 1 << 20, (1 << 20) + 1, 65536, -100};
    return chance(75) ? (int32_t)uniform(lo, hi) : edges[uniform(0, sizeof edges / sizeof edges[0] - 1)];
}
static size_t hostile_size(size_t right) {
    static const size_t edges[] = {0, 1, SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 4 + 1, (size_t)1 << 40};
    if (chance(60)) return right;
    if (chance(50)) return right + (size_t)uniform(-2, 2);
    return edges[uniform(0, sizeof edges / sizeof edges[0] - 1)];
}

/* ---- Files ---- */
static char scratch[] = "/tmp/trmdis-fuzz-XXXXXX";


/* Damages `bytes` in place (room for 128 more): truncation, flips, a lying 8-byte length, junk appended.
 * Returns the new length. */
static size_t mutate(unsigned char *bytes, size_t n) {
    switch (uniform(0, 3)) {
    case 0:
        return (size_t)uniform(0, (int64_t)n - 1);
    case 1:
        for (int64_t i = uniform(1, 16); i > 0; i--) bytes[uniform(0, (int64_t)n - 1)] = (unsigned char)next_u64();
        return n;
    case 2: {
        uint64_t lie = chance(50) ? next_u64() : (uint64_t)uniform(0, (int64_t)n + 8);
        memcpy(bytes, &lie, n < 8 ? n : 8);
        return n;
    }
    default: {
        size_t extra = (size_t)uniform(1, 128);
        for (size_t i = 0; i < extra; i++) bytes[n + i] = (unsigned char)next_u64();
        return n + extra;
    }
    }
}

/* ---- A small valid model ---- */
static trm_model_config small_config(void) {
    trm_model_config c;
    trm_model_config_init(&c);
    c.vocab_size = 6;
    c.seq_len = 5;
    c.hidden_size = 16;
    c.num_heads = 2;
    c.num_layers = 1;
    c.puzzle_emb_len = 2;
    c.puzzle_emb_ndim = 16;
    c.num_puzzle_identifiers = 3;
    c.h_cycles = 1;
    c.l_cycles = 2;
    c.supervision_steps = 3;
    c.time_embedding = 1;
    return c;
}

static void fuzz_configs(int rounds) {
    for (int r = 0; r < rounds; r++) {
        trm_model_config c = small_config();
        switch (uniform(0, 7)) {
        case 0: c.vocab_size = hostile_i32(1, 20); break;
        case 1: c.seq_len = hostile_i32(1, 20); break;
        case 2: c.hidden_size = hostile_i32(1, 40); c.puzzle_emb_ndim = hostile_i32(0, 40); break;
        case 3: c.num_heads = hostile_i32(1, 8); c.num_layers = hostile_i32(0, 3); break;
        case 4: c.h_cycles = hostile_i32(0, 4); c.l_cycles = hostile_i32(0, 4); break;
        case 5: c.supervision_steps = hostile_i32(0, 20); c.puzzle_emb_len = hostile_i32(0, 6); break;
        case 6: c.mixer = hostile_i32(-1, 2); c.pos_encoding = hostile_i32(-1, 3); break;
        default: c.struct_size = hostile_size(sizeof c); break;
        }
        if (chance(10)) c.expansion = chance(50) ? -1.0f : 1e30f;
        trm_model *out = (trm_model *)(uintptr_t)0x5eed;
        int status = trm_model_create(&c, next_u64(), &out);
        expect_status(status, "trm_model_create", r);
        if (status == TRM_OK) {
            int64_t count = 0;
            EXPECT(trm_model_parameter_count(out, &count) == TRM_OK && count > 0, "count %lld", (long long)count);
            trm_model_free(out);
        } else {
            EXPECT(out == (trm_model *)(uintptr_t)0x5eed, "out touched on failure (round %d)", r);
        }
    }
}

static void fuzz_runner(trm_model *model, int rounds) {
    trm_model_config c = small_config();
    enum { B = 3 };
    trm_runner *runner = NULL;
    if (trm_runner_create(model, B, &runner) != TRM_OK) exit(2);
    int32_t tokens[B * 8 + 8], ids[B + 4];
    float logits[B * 5 * 6 + 16], q[B * 2 + 4];
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) tokens[i] = hostile_i32(0, c.vocab_size - 1);
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) ids[i] = hostile_i32(0, c.num_puzzle_identifiers - 1);
        size_t nt = hostile_size(B * 5), ni = hostile_size(B), nl = hostile_size(B * 5 * 6), nq = hostile_size(B * 2);
        memset(logits, 0x7f, sizeof logits);
        memset(q, 0x7f, sizeof q);
        /* Lengths must match exactly, so a wrong one is refused before anything is read. */
        int status = trm_runner_step(runner, chance(5) ? NULL : tokens, nt,
                                     chance(30) ? NULL : ids, chance(30) ? 0 : ni, hostile_i32(0, 5),
                                     chance(20) ? NULL : logits, nl, chance(50) ? NULL : q, nq);
        expect_status(status, "trm_runner_step", r);
        if (status != TRM_OK) {
            unsigned char untouched[sizeof logits];
            memset(untouched, 0x7f, sizeof untouched);
            EXPECT(memcmp(logits, untouched, sizeof logits) == 0, "logits written on failure (round %d)", r);
        }
        if (chance(10)) trm_runner_reset_carry(runner);
    }
    trm_runner_free(runner);
}

static void fuzz_predict(trm_model *model, int rounds) {
    enum { N = 4, S = 5, V = 6, MAXSTEPS = 8 };
    int32_t inputs[N * S + 8], ids[N + 4], trace[MAXSTEPS * N * S];
    float halt[MAXSTEPS * N], logits[N * S * V];
    for (int r = 0; r < rounds; r++) {
        trm_predict_params p;
        trm_predict_params_init(&p);
        if (chance(30)) p.steps = hostile_i32(0, 6);
        if (chance(20)) p.guidance = chance(50) ? 1e30f : -3.5f;
        if (chance(20)) p.feedback = hostile_i32(-1, 1);
        if (chance(20)) p.batch_size = hostile_i32(0, 5);
        if (chance(20)) p.time_rows = hostile_i32(-1, 1);
        if (chance(5)) p.struct_size = hostile_size(sizeof p);
        if (p.steps > MAXSTEPS) p.steps = chance(50) ? p.steps : MAXSTEPS;
        int64_t n = uniform(0, N);
        for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) inputs[i] = hostile_i32(0, V - 1);
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) ids[i] = hostile_i32(0, 2);
        int steps = p.steps > 0 ? p.steps : 3;
        size_t nc = hostile_size((size_t)n * S), ntr = hostile_size((size_t)steps * n * S),
               nh = hostile_size((size_t)steps * n), nl = hostile_size((size_t)n * S * V);
        /* Never claim more than the buffers hold: that would be the caller's bug, not the library's. */
        if (nc > sizeof inputs / sizeof inputs[0]) nc = (size_t)n * S + 1;
        if (ntr > sizeof trace / sizeof trace[0]) ntr = 0;
        if (nh > sizeof halt / sizeof halt[0]) nh = 0;
        if (nl > sizeof logits / sizeof logits[0]) nl = 0;
        memset(trace, 0x55, sizeof trace);
        int status = trm_model_predict(model, chance(10) ? NULL : &p, inputs, nc, chance(50) ? NULL : ids,
                                       (size_t)n, chance(20) ? NULL : trace, ntr, chance(30) ? NULL : halt, nh,
                                       chance(30) ? NULL : logits, nl);
        expect_status(status, "trm_model_predict", r);
        if (status != TRM_OK) {
            int32_t untouched[sizeof trace / sizeof trace[0]];
            memset(untouched, 0x55, sizeof untouched);
            EXPECT(memcmp(trace, untouched, sizeof trace) == 0, "trace written on failure (round %d)", r);
        }
    }
}

static void fuzz_datasets(int rounds) {
    enum { CAP = 64 };
    int32_t x[CAP], y[CAP], ids[CAP];
    for (int r = 0; r < rounds; r++) {
        int32_t seq = hostile_i32(1, 8);
        for (int i = 0; i < CAP; i++) {
            x[i] = hostile_i32(0, 9);
            y[i] = chance(10) ? -100 : hostile_i32(0, 9);
            ids[i] = hostile_i32(0, 3);
        }
        size_t n = (size_t)uniform(0, 6);
        size_t cells = seq > 0 && seq <= 8 ? n * (size_t)seq : 0;
        size_t nc = hostile_size(cells);
        if (nc > CAP) nc = SIZE_MAX; /* refused before any read */
        trm_dataset *out = (trm_dataset *)(uintptr_t)0x5eed;
        int status = trm_dataset_create(seq, x, y, nc, chance(50) ? NULL : ids, n, &out);
        expect_status(status, "trm_dataset_create", r);
        if (status == TRM_OK) trm_dataset_free(out);
        else EXPECT(out == (trm_dataset *)(uintptr_t)0x5eed, "out touched on failure (round %d)", r);
    }
}

static void fuzz_model_files(trm_model *model, int rounds) {
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.safetensors", scratch);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", scratch);
    if (trm_model_save(model, good) != TRM_OK) exit(2);
    size_t n = 0;
    unsigned char *original = read_bytes(good, &n, 256);
    unsigned char *copy = malloc(n + 256);
    if (copy == NULL) exit(2);
    for (int r = 0; r < rounds; r++) {
        memcpy(copy, original, n);
        write_bytes(bad, copy, mutate(copy, n));
        trm_model *loaded = (trm_model *)(uintptr_t)0x5eed;
        int status = trm_model_load(bad, &loaded);
        expect_status(status, "trm_model_load", r);
        if (status == TRM_OK) { /* a flip inside the weights can still be a valid file: then it must work, or stop */
            int32_t in[5] = {1, 2, 3, 4, 5}, trace[3 * 5]; /* with TRM_ERR_NUMERIC if a weight became huge */
            int predicted = trm_model_predict(loaded, NULL, in, 5, NULL, 1, trace, 15, NULL, 0, NULL, 0);
            EXPECT(predicted == TRM_OK || predicted == TRM_ERR_NUMERIC, "a loaded model predicts (round %d): %s", r,
                   trm_last_error());
            trm_model_free(loaded);
        } else {
            EXPECT(loaded == (trm_model *)(uintptr_t)0x5eed, "out touched on failure (round %d)", r);
        }
    }
    free(copy);
    free(original);
    unlink(good);
    unlink(bad);
}

static void fuzz_dataset_files(const char *fixture, int rounds) {
    static const char *files[] = {"dataset.json", "all__inputs.npy", "all__labels.npy",
                                  "all__puzzle_identifiers.npy", "all__puzzle_indices.npy",
                                  "all__group_indices.npy"};
    enum { F = sizeof files / sizeof files[0] };
    unsigned char *original[F];
    size_t sizes[F];
    char path[1024], dir[512];
    snprintf(dir, sizeof dir, "%s/data", scratch);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/test", dir);
    mkdir(path, 0700);
    for (int f = 0; f < F; f++) {
        snprintf(path, sizeof path, "%s/test/%s", fixture, files[f]);
        original[f] = read_bytes(path, &sizes[f], 0);
    }
    for (int r = 0; r < rounds; r++) {
        int victim = (int)uniform(0, F - 1);
        for (int f = 0; f < F; f++) {
            snprintf(path, sizeof path, "%s/test/%s", dir, files[f]);
            if (f != victim) {
                write_bytes(path, original[f], sizes[f]);
                continue;
            }
            unsigned char *copy = malloc(sizes[f] + 256);
            if (copy == NULL) exit(2);
            memcpy(copy, original[f], sizes[f]);
            write_bytes(path, copy, mutate(copy, sizes[f]));
            free(copy);
        }
        trm_dataset *out = (trm_dataset *)(uintptr_t)0x5eed;
        int status = trm_dataset_load(dir, "test", &out);
        expect_status(status, "trm_dataset_load", r);
        if (status == TRM_OK) {
            int64_t size = 0;
            EXPECT(trm_dataset_size(out, &size) == TRM_OK && size >= 1, "size %lld", (long long)size);
            trm_dataset_free(out);
        } else {
            EXPECT(out == (trm_dataset *)(uintptr_t)0x5eed, "out touched on failure (round %d)", r);
        }
    }
    for (int f = 0; f < F; f++) {
        snprintf(path, sizeof path, "%s/test/%s", dir, files[f]);
        unlink(path);
        free(original[f]);
    }
    snprintf(path, sizeof path, "%s/test", dir);
    rmdir(path);
    rmdir(dir);
}

/* Sets a random run of digits inside the JSON header of a safetensors file to nines (same length, so the
 * offsets still hold): counters, shapes and offsets become huge. */
static void inflate_header_number(unsigned char *bytes, size_t n) {
    if (n < 8) return;
    uint64_t length = 0;
    memcpy(&length, bytes, 8);
    if (length > n - 8) return;
    for (int tries = 0; tries < 64; tries++) {
        size_t i = 8 + (size_t)uniform(0, (int64_t)length - 1);
        if (bytes[i] < '0' || bytes[i] > '9') continue;
        while (i > 8 && bytes[i - 1] >= '0' && bytes[i - 1] <= '9') i--;
        while (i < 8 + length && bytes[i] >= '0' && bytes[i] <= '9') bytes[i++] = '9';
        return;
    }
}

/* Checkpoint state files, damaged: trm_trainer_resume must refuse them with a message or give a trainer
 * whose next step runs or fails cleanly. */
static void fuzz_checkpoint_states(trm_model *model, int rounds) {
    enum { N = 8, S = 5 };
    int32_t x[N * S], y[N * S];
    for (int i = 0; i < N * S; i++) {
        x[i] = (int32_t)uniform(1, 5);
        y[i] = (int32_t)uniform(1, 5);
    }
    trm_dataset *data = NULL;
    if (trm_dataset_create(S, x, y, N * S, NULL, N, &data) != TRM_OK) exit(2);
    char good[512], bad[512], path[1200];
    snprintf(good, sizeof good, "%s/ckpt", scratch);
    snprintf(bad, sizeof bad, "%s/ckpt-bad", scratch);
    mkdir(bad, 0700);
    for (int method = TRM_METHOD_DIS; method <= TRM_METHOD_TRM; method++) {
        trm_train_params tp;
        trm_train_params_init(&tp);
        tp.method = method;
        tp.batch_size = 4;
        trm_trainer *trainer = NULL;
        if (trm_trainer_create(model, data, NULL, &tp, &trainer) != TRM_OK || trm_trainer_step(trainer, NULL) != TRM_OK ||
            trm_trainer_save_checkpoint(trainer, good) != TRM_OK) {
            fprintf(stderr, "cannot write the checkpoint: %s\n", trm_last_error());
            exit(2);
        }
        trm_trainer_free(trainer);
        size_t n = 0, model_n = 0;
        snprintf(path, sizeof path, "%s/state.safetensors", good);
        unsigned char *original = read_bytes(path, &n, 256);
        snprintf(path, sizeof path, "%s/model.safetensors", good);
        unsigned char *model_bytes = read_bytes(path, &model_n, 0);
        snprintf(path, sizeof path, "%s/model.safetensors", bad);
        write_bytes(path, model_bytes, model_n);
        unsigned char *copy = malloc(n + 256);
        if (copy == NULL) exit(2);
        for (int r = 0; r < rounds / 2; r++) {
            memcpy(copy, original, n);
            size_t m = n;
            if (chance(50)) inflate_header_number(copy, n);
            else m = mutate(copy, n);
            snprintf(path, sizeof path, "%s/state.safetensors", bad);
            write_bytes(path, copy, m);
            trm_trainer *resumed = (trm_trainer *)(uintptr_t)0x5eed;
            int status = trm_trainer_resume(bad, data, NULL, NULL, &resumed);
            expect_status(status, "trm_trainer_resume", r);
            if (status == TRM_OK) {
                expect_status(trm_trainer_step(resumed, NULL), "trm_trainer_step after a damaged resume", r);
                trm_trainer_free(resumed);
            } else {
                EXPECT(resumed == (trm_trainer *)(uintptr_t)0x5eed, "out touched on failure (round %d)", r);
            }
        }
        free(copy);
        free(model_bytes);
        free(original);
    }
    snprintf(path, sizeof path, "rm -rf '%s' '%s'", good, bad);
    if (system(path) != 0) exit(2);
    trm_dataset_free(data);
}

/* Headers whose sizes overflow: a safetensors tensor and a .npy array with hostile shapes and offsets. */
static void fuzz_size_overflows(const char *fixture, int rounds) {
    static const char *dims[] = {"0", "1", "7", "4294967296", "1099511627776", "4194304", "4611686018427387904",
                                 "9223372036854775807", "18446744073709551615", "-1"};
    static const char *dtypes[] = {"F32", "I32", "U8", "I64", "BF16"};
    enum { D = sizeof dims / sizeof dims[0] };
    char header[512], path[1200], dir[600];
    unsigned char file[1024];
    snprintf(dir, sizeof dir, "%s/npy", scratch);
    mkdir(dir, 0700);
    size_t json_n = 0;
    snprintf(path, sizeof path, "%s/test/dataset.json", fixture);
    unsigned char *json = read_bytes(path, &json_n, 0);
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    write_bytes(path, json, json_n);
    free(json);
    for (int r = 0; r < rounds; r++) {
        int used = snprintf(header, sizeof header, "{\"a\":{\"dtype\":\"%s\",\"shape\":[%s,%s],\"data_offsets\":[%s,%s]}}",
                            dtypes[uniform(0, 4)], dims[uniform(0, D - 1)], dims[uniform(0, D - 1)],
                            chance(70) ? "0" : dims[uniform(0, D - 1)], dims[uniform(0, D - 1)]);
        uint64_t length = (uint64_t)used;
        memcpy(file, &length, 8);
        memcpy(file + 8, header, (size_t)used);
        snprintf(path, sizeof path, "%s/overflow.safetensors", scratch);
        write_bytes(path, file, 8 + (size_t)used + (size_t)uniform(0, 64));
        trm_model *out = NULL;
        int status = trm_model_load(path, &out);
        EXPECT(status == TRM_ERR_FORMAT, "an overflowing safetensors header loaded (round %d): %d", r, status);
        unlink(path);

        used = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s, %s), }",
                        chance(50) ? "<i4" : "|u1", dims[uniform(0, D - 1)], dims[uniform(0, D - 1)]);
        memcpy(file, "\x93NUMPY\x01\x00", 8);
        file[8] = (unsigned char)(used & 0xFF);
        file[9] = (unsigned char)(used >> 8);
        memcpy(file + 10, header, (size_t)used);
        snprintf(path, sizeof path, "%s/all__inputs.npy", dir);
        write_bytes(path, file, 10 + (size_t)used + (size_t)uniform(0, 64));
        trm_dataset *set = NULL;
        status = trm_dataset_load(scratch, "npy", &set); /* a shape that fits reaches the missing labels file */
        EXPECT((status == TRM_ERR_FORMAT || status == TRM_ERR_IO) && set == NULL, "an overflowing .npy loaded (round %d): %d %s",
               r, status, trm_last_error());
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 300;
    const char *fixture = argc > 2 ? argv[2] : "../../Tests/TRMDISTests/Fixtures/sudoku-official";
    if (mkdtemp(scratch) == NULL) return 2;
    trm_model_config c = small_config();
    trm_model *model = NULL;
    if (trm_model_create(&c, 7, &model) != TRM_OK) {
        fprintf(stderr, "cannot create the model: %s\n", trm_last_error());
        return 2;
    }
    fuzz_configs(rounds);
    fuzz_runner(model, rounds);
    fuzz_predict(model, rounds);
    fuzz_datasets(rounds);
    fuzz_model_files(model, rounds);
    fuzz_dataset_files(fixture, rounds);
    fuzz_checkpoint_states(model, rounds);
    fuzz_size_overflows(fixture, rounds);
    trm_model_free(model);
    rmdir(scratch);
    printf("fuzz_test: %d rounds per function, %d calls accepted, %d refused with a message, %d checks, %d failed\n",
           rounds, accepted, refused, checks, failures);
    /* Both outcomes must occur, or the fuzzing never reached past the argument checks. */
    if (accepted == 0 || refused == 0) return 1;
    return failures == 0 ? 0 : 1;
}
