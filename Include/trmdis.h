/*
 * trmdis.h: the C interface of libtrmdis, an engine for Tiny Recursive Models (TRM) and Deep Improvement
 * Supervision (DIS) on the CPU.
 *
 * Usage (error checks shortened; every fallible call returns a trm_status):
 *
 *     trm_model_config cfg;
 *     trm_model_config_preset("dis-compact", &cfg);   // or trm_model_config_init + fields
 *     trm_model *model = NULL;
 *     if (trm_model_create(&cfg, 42, &model) != TRM_OK) { puts(trm_last_error()); return 1; }
 *     int64_t n = 0; trm_model_parameter_count(model, &n);
 *
 *     trm_runner *runner = NULL;                       // per-batch state: carry, activations, outputs
 *     trm_runner_create(model, 8, &runner);
 *     trm_runner_reset_carry(runner);
 *     trm_runner_step(runner, tokens, 8 * cfg.seq_len, puzzle_ids, 8, 1, logits, 8 * cfg.seq_len * cfg.vocab_size,
 *                     q_logits, 16);                   // one supervision step; the carry moves on
 *     trm_runner_free(runner);
 *     trm_model_free(model);
 *
 * Thread safety: a handle is used by one thread at a time; distinct handles are independent. A model may be
 * shared by several runners, each used on its own thread, as long as no call changes the model's weights
 * meanwhile. trm_log_set and trm_set_num_threads change global state and are not thread-safe.
 *
 * Errors: every fallible function returns TRM_OK (0) or another trm_status. On failure, out-parameters and
 * caller buffers are left untouched and trm_last_error() explains. The library never crashes on bad input
 * and prints nothing except through the log callback.
 */
#ifndef TRMDIS_H
#define TRMDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ------------------------------------------------------------------------------------------- */

#define TRM_VERSION_MAJOR 0
#define TRM_VERSION_MINOR 1
#define TRM_VERSION_PATCH 0
/* Bumped on any change of a struct layout or a function signature. Bindings check it when they load. */
#define TRM_ABI_VERSION 1

/* The library's version, "MAJOR.MINOR.PATCH"; a static string. */
const char *trm_version(void);
/* The library's TRM_ABI_VERSION; compare with the header's before calling anything else. */
uint32_t trm_abi_version(void);

/* ---- Status codes and errors ---------------------------------------------------------------------------- */

typedef enum trm_status {
    TRM_OK = 0,
    TRM_ERR_INVALID_ARG = 1, /* a null pointer, a size or value out of range, a token id outside the vocabulary */
    TRM_ERR_IO = 2,          /* a file could not be read or written */
    TRM_ERR_FORMAT = 3,      /* a file's contents are malformed */
    TRM_ERR_OOM = 4,         /* the buffers would not fit in memory */
    TRM_ERR_ABORTED = 5,     /* a callback or trm_*_request_stop asked to stop */
    TRM_ERR_ABI = 6,         /* a struct_size this library does not know */
    TRM_ERR_INTERNAL = 7     /* a bug: please report it with the message */
} trm_status;

/* A static English description of a status code ("unknown status" for other values). */
const char *trm_status_string(int status);

/* The message of the calling thread's most recent failure (an empty string if none). Library-owned, valid
 * until the calling thread's next failing call. The status code decides whether a call failed. */
const char *trm_last_error(void);

/* ---- Logging and threads -------------------------------------------------------------------------------- */

typedef enum trm_log_level { TRM_LOG_DEBUG = 0, TRM_LOG_INFO = 1, TRM_LOG_WARN = 2, TRM_LOG_ERROR = 3 } trm_log_level;
/* Receives each log line (UTF-8, no trailing newline) on the thread that logged it. */
typedef void (*trm_log_callback)(int32_t level, const char *message, void *user_data);
/* Sets the global log sink; NULL discards messages (the default). Not thread-safe. */
void trm_log_set(trm_log_callback callback, void *user_data);

/* Sets the threads used by the engine's kernels and by OpenBLAS (1...1024). Global; call it while no
 * other call is running. The same seed and thread count give the same bits. */
int trm_set_num_threads(int32_t threads);
/* The current thread count. */
int32_t trm_get_num_threads(void);

/* ---- Model configuration -------------------------------------------------------------------------------- */

typedef enum trm_mixer { TRM_MIXER_ATTENTION = 0, TRM_MIXER_MLP_T = 1 } trm_mixer;
typedef enum trm_pos_encoding { TRM_POS_ROPE = 0, TRM_POS_LEARNED = 1, TRM_POS_NONE = 2 } trm_pos_encoding;

/* The shapes of a network and its recursion. Enums are stored as int32_t so the layout is fixed. */
typedef struct trm_model_config {
    size_t struct_size;             /* sizeof(trm_model_config), set by the init functions */
    int32_t vocab_size;             /* token ids are 0...vocab_size-1 */
    int32_t seq_len;                /* grid tokens per example */
    int32_t puzzle_emb_len;         /* puzzle-prefix positions (16 in the reference; 0 for none) */
    int32_t puzzle_emb_ndim;        /* width of a puzzle-embedding row, <= puzzle_emb_len * hidden_size */
    int32_t num_puzzle_identifiers; /* rows of the puzzle-embedding table */
    int32_t hidden_size;            /* D */
    int32_t num_heads;              /* divides hidden_size */
    float expansion;                /* SwiGLU expansion (inner = round(expansion*D*2/3) up to a multiple of 256) */
    int32_t num_layers;             /* blocks in the network */
    int32_t mixer;                  /* trm_mixer */
    int32_t pos_encoding;           /* trm_pos_encoding */
    float rope_theta;               /* 10000 */
    float rms_norm_eps;             /* 1e-5 */
    int32_t h_cycles;               /* T: recursion processes per supervision step, T-1 without gradient */
    int32_t l_cycles;               /* n: latent updates per recursion process */
    int32_t supervision_steps;      /* N_sup */
    int32_t time_embedding;         /* 1: add the DIS step-time embedding to the input */
} trm_model_config;

/* Fills `config` with the reference TRM defaults (the sudoku-att shapes) and sets struct_size. NULL does
 * nothing. */
void trm_model_config_init(trm_model_config *config);

/* Fills `config` with a named preset: "sudoku-mlp", "sudoku-att", "maze-att", "arc-att", "dis-compact",
 * "dis-medium" or "nqueens". TRM_ERR_INVALID_ARG for another name; `config` is untouched then. */
int trm_model_config_preset(const char *name, trm_model_config *config);

/* ---- Model ---------------------------------------------------------------------------------------------- */

typedef struct trm_model trm_model;

/* Creates a model with freshly initialised weights (JAX-style truncated normal, seeded: the same seed gives
 * the same bits). The config is copied. On success *out owns a model to release with trm_model_free. */
int trm_model_create(const trm_model_config *config, uint64_t seed, trm_model **out);

/* Releases a model. NULL does nothing. Runners created from it keep it alive until they are freed. */
void trm_model_free(trm_model *model);

/* Copies the model's configuration into `config` (whose struct_size the caller sets, e.g. with
 * trm_model_config_init; TRM_ERR_ABI for another size). */
int trm_model_get_config(const trm_model *model, trm_model_config *config);

/* The trainable parameter count as the reference counts it (no puzzle embeddings, H_init, L_init). */
int trm_model_parameter_count(const trm_model *model, int64_t *count);

/* ---- Runner: supervision steps for a fixed batch size ---------------------------------------------------- */

typedef struct trm_runner trm_runner;

/* Creates the per-batch state of `model` (carry, activations, outputs), all allocated here once.
 * batch_size is 1...1048576. The runner keeps the model alive. */
int trm_runner_create(trm_model *model, int32_t batch_size, trm_runner **out);

/* Releases a runner. NULL does nothing. */
void trm_runner_free(trm_runner *runner);

/* Starts every example afresh: y = H_init, z = L_init at every position; the net-call counter restarts. */
int trm_runner_reset_carry(trm_runner *runner);

/* Runs one supervision step (T-1 cycles without gradient, then one) on the carried (y, z) and moves the
 * carry on.
 *   tokens       in:  batch_size * seq_len token ids, each in 0...vocab_size-1 (n_tokens says how many)
 *   puzzle_ids   in:  batch_size ids in 0...num_puzzle_identifiers-1; may be NULL (all 0) or, without a
 *                     puzzle prefix, is ignored
 *   time_step    in:  the 1-based supervision step, selecting the DIS time embedding (0...N_sup+1); ignored
 *                     without one
 *   logits       out: batch_size * seq_len * vocab_size floats, or NULL
 *   q_logits     out: batch_size * 2 floats (q_halt, q_continue), or NULL
 * Each buffer's length is passed after it and must match exactly; a NULL buffer comes with length 0. */
int trm_runner_step(trm_runner *runner, const int32_t *tokens, size_t n_tokens, const int32_t *puzzle_ids,
                    size_t n_puzzle_ids, int32_t time_step, float *logits, size_t n_logits, float *q_logits,
                    size_t n_q_logits);

/* Network applications each example has gone through since the last reset (T*(n+1) per step). */
int trm_runner_net_calls(const trm_runner *runner, int64_t *net_calls);

#ifdef __cplusplus
}
#endif
#endif /* TRMDIS_H */
