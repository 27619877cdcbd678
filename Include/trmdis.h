/*
 * trmdis.h: the C interface of libtrmdis, an engine for Tiny Recursive Models (TRM) and Deep Improvement
 * Supervision (DIS) on the CPU.
 *
 * Usage (error checks shortened; every fallible call returns a trm_status):
 *
 *     trm_model_config cfg;
 *     trm_model_config_preset("dis-compact", &cfg);   // or trm_model_config_init + fields
 *     trm_model_config_for_method(&cfg, TRM_METHOD_DIS); // the time embedding the method trains
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
 *
 *     trm_dataset *train = NULL;                       // examples: inputs, labels (-100 = ignored), puzzle ids
 *     trm_dataset_create(cfg.seq_len, inputs, labels, n * cfg.seq_len, NULL, n, &train);
 *     trm_train_params tp;
 *     trm_train_params_init(&tp);                      // DIS defaults; then set fields
 *     tp.max_steps = 500; tp.progress = on_step;       // bool on_step(const trm_step_info *, void *)
 *     trm_trainer *trainer = NULL;
 *     trm_trainer_create(model, train, NULL, &tp, &trainer);
 *     trm_trainer_run(trainer, NULL);                  // trains `model` in place
 *     trm_model_save(model, "model.safetensors");
 *     trm_predict_params pp;
 *     trm_predict_params_init(&pp);
 *     trm_model_predict(model, &pp, inputs, ...);      // the prediction after every supervision step
 *     trm_trainer_free(trainer); trm_dataset_free(train); trm_model_free(model);
 *
 * Thread safety: a handle is used by one thread at a time; distinct handles are independent. A model may be
 * shared by several runners, each used on its own thread, as long as no call changes the model's weights
 * meanwhile (a trainer changes its model's weights during trm_trainer_run and trm_trainer_step);
 * trm_model_predict and trm_model_evaluate only read the model, so they too may run on one model at once.
 * trm_trainer_request_stop is the only function that may be called on a handle another thread is using; it
 * is also async-signal-safe. trm_log_set and trm_set_num_threads change global state and are not
 * thread-safe. Callbacks run synchronously on the thread that made the call.
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
#define TRM_VERSION_MINOR 5
#define TRM_VERSION_PATCH 0
/* Bumped on any change of a struct layout or a function signature. Bindings check it when they load.
 * 2: trm_train_params gained the data-parallel fields (rank ... allreduce_user_data).
 * 3: trm_predict_params gained time_rows; trm_protocol and trm_model_protocol; trm_model_config_for_method;
 *    trm_train_params.ema_rate -1 (the method's default) is the default; TRM_ERR_NUMERIC; trm_blas_info and
 *    trm_get_blas_info; trm_train_params.allow_other_dataset; trm_predict_params.progress; trm_log_set_level.
 * Version 0.4 only added (ABI still 3): trm_model_tensor_count/_info, trm_model_get_tensor/set_tensor,
 * trm_official_params, trm_model_import_official/export_official, trm_dataset_load_paths, TRM_CORRUPTION_DATASET.
 * Version 0.5 (ABI still 3): trm_model_load also reads a trainer's state.safetensors (its raw weights). */
#define TRM_ABI_VERSION 3

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
    TRM_ERR_INTERNAL = 7,    /* a bug: please report it with the message */
    TRM_ERR_NUMERIC = 8      /* the computation produced NaN or infinity (diverged training, corrupt weights) */
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

/* The least severe level passed to the callback (default TRM_LOG_WARN: problems only). TRM_LOG_INFO adds what a
 * run does: the start of trm_trainer_run (method, examples, batch, budget), every evaluation and every
 * checkpoint written; TRM_LOG_DEBUG adds every training step. TRM_ERR_INVALID_ARG for another value. */
int trm_log_set_level(int32_t level);

/* Sets the threads used by the engine's kernels and by OpenBLAS (1...1024, and at most the products OpenBLAS can
 * run at once: twice the MAX_THREADS its build names, 128 for Debian's; TRM_ERR_INVALID_ARG beyond). The default
 * is one per CPU the process may use (its affinity mask, within its cgroup's CPU quota), within the same bound.
 * Global; TRM_ERR_INVALID_ARG while a training, prediction or evaluation call runs (on any thread, or from its
 * progress callback); TRM_ERR_OOM if the threads cannot be started (the previous count stays). More threads
 * than CPUs work but never spin while they wait. The same seed and thread count give the same bits. */
int trm_set_num_threads(int32_t threads);
/* The current thread count. */
int32_t trm_get_num_threads(void);

/* The BLAS the matrix products run on. OpenBLAS picks its kernels from a table of CPU models; on a CPU it does
 * not know it falls back to a generic core (Prescott: SSE3), several times slower. At first use the engine
 * checks, and where the core is below the CPU (a generic one on a CPU with AVX2+FMA or AVX-512, or an AVX2 one
 * on an AVX-512 CPU) it loads OpenBLAS's matching kernels instead (a second copy of the library in a namespace
 * of its own), unless the user set OPENBLAS_CORETYPE, which always wins. When the products still run on a
 * core below the CPU, the log callback gets a warning (when the callback is installed, and at first use). */
typedef struct trm_blas_info {
    size_t struct_size;            /* sizeof(trm_blas_info), set by the caller */
    char library[256];             /* the OpenBLAS file in use */
    char version[256];             /* OpenBLAS's configuration string: version and build options */
    char core[32];                 /* the kernel core the products run on, e.g. "Haswell", "SkylakeX" */
    char detected_core[32];        /* the core OpenBLAS chose by itself */
    char isa[16];                  /* the CPU's best vector instructions: "avx512", "avx2" (with FMA) or "sse" */
    int32_t corrected;             /* 1: the engine replaced a core below `isa` with the one for `isa` */
    int32_t core_from_environment; /* 1: the user set OPENBLAS_CORETYPE */
    int32_t threads;               /* the engine's thread count (OpenBLAS runs one thread per call) */
    int32_t warning;               /* 1: the products run on a core below the CPU's (or without OpenBLAS) */
} trm_blas_info;

/* Fills `out` (whose struct_size the caller sets; TRM_ERR_ABI for another size). Strings are NUL-terminated,
 * cut to their field's size. The library loads OpenBLAS (libopenblas.so.0) itself at first use; where it cannot,
 * `library` is empty, `warning` is 1, the log callback says why, and every computation fails with TRM_ERR_IO. */
int trm_get_blas_info(trm_blas_info *out);

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

/* Fills `config` with a named preset. TRM_ERR_INVALID_ARG for another name; `config` is untouched then.
 * Every preset has a 16-position puzzle prefix unless said otherwise, expansion 4 and N_sup 16 for TRM:
 *   name         vocab  seq_len  D    heads layers  mixer (positions)   T  n  N_sup  time emb.  task
 *   sudoku-mlp   11     81       512  8     2       mlp_t (none)        3  6  16     no         9x9 Sudoku
 *   sudoku-att   11     81       512  8     2       attention (RoPE)    3  6  16     no         9x9 Sudoku
 *   maze-att     6      900      512  8     2       attention (RoPE)    3  4  16     no         30x30 maze
 *   arc-att      12     900      512  8     2       attention (RoPE)    3  4  16     no         ARC-AGI 30x30
 *   dis-compact  12     900      256  8     1       attention (RoPE)    1  2  6      yes        ARC-AGI (DIS)
 *   dis-medium   12     900      512  8     2       attention (RoPE)    1  2  6      yes        ARC-AGI (DIS)
 *   nqueens      3      64       256  8     1       attention (RoPE)    1  2  8      yes        8x8 N-Queens (DIS),
 *                                                                                              no prefix
 * Set vocab_size and seq_len (and num_puzzle_identifiers) to your data's; trm_model_config_for_method adapts the
 * time embedding to the method. */
int trm_model_config_preset(const char *name, trm_model_config *config);

/* Adapts `config` to the training method (a trm_method), as `trmdis train --method` does: the DIS step-time
 * embedding on for TRM_METHOD_DIS, off for TRM_METHOD_TRM (TRM-ACT never trains past its first row). Call it
 * after choosing a preset and before setting time_embedding yourself. TRM_ERR_INVALID_ARG for another method. */
int trm_model_config_for_method(trm_model_config *config, int32_t method);

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

/* Which rows of the DIS step-time table the supervision steps use. */
typedef enum trm_time_rows {
    TRM_TIME_ROWS_PER_STEP = 0, /* step s uses row min(s, supervision_steps): DIS */
    TRM_TIME_ROWS_FIRST = 1     /* every step uses row 1: TRM-ACT trained on a model with a table */
} trm_time_rows;

/* How a model was trained, as far as inference must repeat it (docs/model.md: The inference protocol).
 * A trainer records it on its model and model files carry it, so prediction and evaluation follow it by
 * default. A file without a record (written before ABI 3) and an untrained model follow the rule: a model
 * with a time embedding is DIS with feedback and per-step rows, one without is TRM-ACT. */
typedef struct trm_protocol {
    size_t struct_size;        /* sizeof(trm_protocol), set by the caller */
    int32_t recorded;          /* 1: the model's training record; 0: the rule above */
    int32_t method;            /* trm_method */
    int32_t feedback;          /* 1: each step's prediction was the next step's input */
    int32_t time_rows;         /* trm_time_rows (meaningless without a time embedding) */
    int32_t supervision_steps; /* N_sup: the default number of inference steps */
} trm_protocol;

/* The protocol `model` was trained with (or the rule's, when it has no record). */
int trm_model_protocol(const trm_model *model, trm_protocol *out);

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

/* ---- Model files ---------------------------------------------------------------------------------------- */

/* Writes the model's weights and configuration to `path` (UTF-8) as safetensors, under the PyTorch
 * reference's tensor names with the configuration as JSON metadata. The file is written to a temporary
 * name and renamed, so a failure (TRM_ERR_IO) leaves any previous file intact. */
int trm_model_save(const trm_model *model, const char *path);

/* Loads a model written by trm_model_save (or converted from PyTorch). A trainer's state.safetensors loads
 * too, as its raw training weights (model.safetensors beside it holds the EMA copy when EMA is on; since
 * 0.5). TRM_ERR_IO if the file cannot be read, TRM_ERR_FORMAT if it is not a complete libtrmdis checkpoint
 * (bad header, missing or extra tensors, wrong shapes, non-finite weights). On success *out owns a model to
 * release with trm_model_free. */
int trm_model_load(const char *path, trm_model **out);

/* ---- Tensors by name (a state dict) ----------------------------------------------------------------------- */

/* One tensor of a model: its name in model files (the official PyTorch state-dict name without the wrapper
 * prefix, docs/formats.md) and its shape. Tensors are float32, row-major. */
typedef struct trm_tensor_info {
    size_t struct_size; /* sizeof(trm_tensor_info), set by the caller */
    char name[128];     /* NUL-terminated */
    int32_t ndim;       /* 1 or 2 */
    int64_t shape[4];   /* the first ndim entries; the rest 0 */
    int64_t count;      /* elements: the product of the shape */
} trm_tensor_info;

/* The number of tensors the model holds: its trainable weights, then the buffers puzzle_emb.weights (with a
 * puzzle prefix), H_init and L_init. Added in 0.4. */
int trm_model_tensor_count(const trm_model *model, int32_t *count);
/* Describes tensor `index` (0 <= index < trm_model_tensor_count) in file order. TRM_ERR_ABI for another
 * struct_size. */
int trm_model_tensor_info(const trm_model *model, int32_t index, trm_tensor_info *out);
/* Copies tensor `name` into `out`, which holds `count` floats (exactly the tensor's count). */
int trm_model_get_tensor(const trm_model *model, const char *name, float *out, size_t count);
/* Replaces tensor `name` with `count` floats from `values` (copied), all or nothing: TRM_ERR_INVALID_ARG for an
 * unknown name, another count or a value that is not finite. Not while another call uses the model (a
 * prediction, or a trainer that owns it: its EMA copy is not changed). */
int trm_model_set_tensor(trm_model *model, const char *name, const float *values, size_t count);

/* ---- Checkpoints of the official PyTorch code ------------------------------------------------------------ */

/* How trm_model_import_official reads a checkpoint. */
typedef struct trm_official_params {
    size_t struct_size;      /* sizeof(trm_official_params), set by trm_official_params_init */
    const char *config_yaml; /* the run's all_config.yaml; NULL (default): the all_config.yaml beside the checkpoint */
    int32_t seq_len;         /* 0 (default): from the weights (mlp_t, learned positions) or the run's dataset.json */
} trm_official_params;

void trm_official_params_init(trm_official_params *params);

/* Imports a checkpoint written by the official TRM or DIS code (docs/pytorch.md): the torch.save file its
 * pretrain.py writes (e.g. step_65104; read without PyTorch and without running any of its pickle) or the same
 * state dict as safetensors; float32, bfloat16 or float16 (converted to float32); keys with or without the
 * _orig_mod.model.inner. prefix. The run's all_config.yaml gives the recursion (H_cycles = T, L_cycles = n,
 * halt_max_steps = N_sup), heads, expansion and positions; the tensors give the rest, and both must agree.
 * seq_len is needed only for an attention model whose run dataset (data_paths) is not found.
 * TRM_ERR_IO: a file cannot be read (or no all_config.yaml beside the checkpoint); TRM_ERR_FORMAT: anything the
 * engine cannot represent (HRM, other dtypes, tensors that do not match the configuration), with the reason;
 * TRM_ERR_INVALID_ARG: a bad seq_len. Notes on the conversion go to the log callback at TRM_LOG_INFO. params may
 * be NULL (the defaults). On success *out owns a model to release with trm_model_free. Added in 0.4. */
int trm_model_import_official(const char *checkpoint, const trm_official_params *params, trm_model **out);

/* Writes the model in the official code's terms: `path` gets its state dict (float32, keys
 * _orig_mod.model.inner.<name>) as a torch.save archive that the official code's torch.load reads (a path such
 * as "step_0"), or as safetensors when `path` ends in ".safetensors" (safetensors.torch.load_file); `config_yaml`
 * gets the arch section of an all_config.yaml. config_yaml NULL: all_config.yaml beside `path`, which must not exist yet
 * (TRM_ERR_IO). Both files are written atomically. Added in 0.4. */
int trm_model_export_official(const trm_model *model, const char *path, const char *config_yaml);

/* ---- Datasets ------------------------------------------------------------------------------------------- */

/* Examples for training and evaluation. Immutable; trainers keep what they need, so a dataset may be freed
 * as soon as the trainers and evaluations using it are created or done. */
typedef struct trm_dataset trm_dataset;

/* Copies n_examples examples of seq_len tokens.
 *   inputs      in: n_cells = n_examples * seq_len token ids, >= 0 (checked against a model's vocabulary when
 *                   the dataset is used)
 *   labels      in: n_cells target ids, >= 0, or -100 for a cell the loss and accuracies ignore
 *   puzzle_ids  in: n_examples puzzle-embedding rows, >= 0; NULL for all 0 (n_examples still counts examples)
 * seq_len is 1...1048576 and n_examples at least 1. Each example is its own group when sampled. */
int trm_dataset_create(int32_t seq_len, const int32_t *inputs, const int32_t *labels, size_t n_cells,
                       const int32_t *puzzle_ids, size_t n_examples, trm_dataset **out);

/* Loads one split (a subdirectory name such as "train" or "test") of a dataset directory in the official TRM
 * layout (<directory>/<split>/dataset.json and <set>__*.npy for every set dataset.json lists, concatenated):
 * byte tokens, the split's ignore_label_id mapped to -100, each example's puzzle identifier, its puzzle and
 * its group (an original puzzle and its augmentations). Training draws a group, one of its puzzles, and all
 * of that puzzle's examples, as the official sampler does. <set>__intermediate_steps.npy, where present,
 * provides the DIS step targets of TRM_CORRUPTION_DATASET. TRM_ERR_IO / TRM_ERR_FORMAT name the file at
 * fault. */
int trm_dataset_load(const char *directory, const char *split, trm_dataset **out);

/* The same split of `count` dataset directories merged as the official code merges its data_paths: seq_len,
 * vocab_size, pad_id, ignore_label_id and blank_identifier_id must agree; examples, puzzles and groups are
 * concatenated in order, puzzle identifiers kept as stored. Added in 0.4. */
int trm_dataset_load_paths(const char *const *directories, size_t count, const char *split, trm_dataset **out);

/* Releases a dataset. NULL does nothing. */
void trm_dataset_free(trm_dataset *dataset);

/* The number of examples. */
int trm_dataset_size(const trm_dataset *dataset, int64_t *examples);

/* Tokens per example. */
int trm_dataset_seq_len(const trm_dataset *dataset, int32_t *seq_len);

/* ---- Inference and evaluation --------------------------------------------------------------------------- */

/* Inference always runs a fixed number of supervision steps from a fresh carry (no halting), by default with
 * the protocol the model was trained with (trm_model_protocol). */

/* The most supervision steps one prediction runs. */
#define TRM_MAX_STEPS 4096

/* Called by trm_model_predict and trm_model_evaluate after every batch, on the calling thread, with the
 * examples done so far and the total. Return true to continue, false to stop: the call then returns
 * TRM_ERR_ABORTED (trm_model_predict leaves the outputs of the batches done written). */
typedef bool (*trm_predict_callback)(int64_t done, int64_t total, void *user_data);

typedef struct trm_predict_params {
    size_t struct_size; /* sizeof(trm_predict_params), set by trm_predict_params_init */
    int32_t steps;      /* supervision steps, 1...TRM_MAX_STEPS; 0 = the model's supervision_steps (default) */
    float guidance;     /* guidance weight w: logits = (1-w)*before + w*after each step; 1 = plain (default) */
    int32_t feedback;   /* feed each step's prediction back as the next input: 1 yes, 0 no, -1 as the model
                           was trained (default) */
    int32_t batch_size; /* examples run together, 1...1048576; 0 = min(64, examples) (default) */
    int32_t time_rows;  /* step-time rows: a trm_time_rows, or -1 as the model was trained (default); ignored
                           without a time embedding */
    trm_predict_callback progress; /* after every batch; NULL = none (default) */
    void *progress_user_data;
} trm_predict_params;

/* Fills `params` with the defaults above and sets struct_size. NULL does nothing. */
void trm_predict_params_init(trm_predict_params *params);

/* Solves n_examples puzzles, in batches, and records the prediction after every supervision step.
 *   params          in:  NULL for the defaults
 *   inputs          in:  n_cells = n_examples * seq_len token ids in 0...vocab_size-1
 *   puzzle_ids      in:  n_examples ids in 0...num_puzzle_identifiers-1, or NULL for all 0
 *   trace_out       out: steps * n_examples * seq_len ids, [step][example][cell]: the argmax of each step's
 *                        (guided) logits; or NULL
 *   halt_prob_out   out: steps * n_examples floats, [step][example]: sigmoid(q_halt) after each step; or NULL.
 *                        Meaningful for TRM-ACT models only: DIS never trains q_head, which stays at its initial
 *                        bias (sigmoid(-5) = 0.0067)
 *   final_logits_out out: n_examples * seq_len * vocab_size floats: the last step's (guided) logits; or NULL
 * `steps` is params->steps, or the model's supervision_steps when that is 0. Each buffer's length is passed
 * after it and must match exactly; a NULL buffer comes with length 0. Everything is checked before the
 * first step, so on failure no output buffer has been written. */
int trm_model_predict(const trm_model *model, const trm_predict_params *params, const int32_t *inputs,
                      size_t n_cells, const int32_t *puzzle_ids, size_t n_examples, int32_t *trace_out, size_t n_trace,
                      float *halt_prob_out, size_t n_halt, float *final_logits_out, size_t n_logits);

/* The most supervision steps an evaluation reports (the length of the per-step arrays). */
#define TRM_EVAL_MAX_STEPS 64

/* Accuracy on a dataset after every supervision step. The caller sets struct_size to
 * sizeof(trm_eval_result); the library fills the rest. */
typedef struct trm_eval_result {
    size_t struct_size;
    int64_t examples;                                /* examples evaluated */
    double exact_accuracy;                           /* fraction with every non-ignored cell right, last step */
    double token_accuracy;                           /* mean fraction of right non-ignored cells, last step */
    double net_calls_per_example;                    /* network applications per example: steps*T*(n+1) */
    double seconds;                                  /* wall-clock time of the evaluation */
    int32_t n_steps;                                 /* supervision steps run, 1...TRM_EVAL_MAX_STEPS */
    double exact_by_step[TRM_EVAL_MAX_STEPS];        /* [0...n_steps-1]: exact accuracy after each step */
    double token_by_step[TRM_EVAL_MAX_STEPS];        /* token accuracy after each step */
    double hamming_by_step[TRM_EVAL_MAX_STEPS];      /* mean count of wrong non-ignored cells after each step */
} trm_eval_result;

/* Evaluates `model` on every example of `dataset` (whose seq_len must be the model's, tokens inside its
 * vocabulary). params: NULL for the defaults; the steps run must be at most TRM_EVAL_MAX_STEPS. */
int trm_model_evaluate(const trm_model *model, const trm_dataset *dataset, const trm_predict_params *params,
                       trm_eval_result *out);

/* ---- Training ------------------------------------------------------------------------------------------- */

typedef enum trm_method { TRM_METHOD_DIS = 0, TRM_METHOD_TRM = 1 } trm_method;
typedef enum trm_loss { TRM_LOSS_STABLEMAX = 0, TRM_LOSS_SOFTMAX = 1 } trm_loss;
typedef enum trm_optimizer { TRM_OPTIMIZER_ADAM_ATAN2 = 0, TRM_OPTIMIZER_ADAMW = 1 } trm_optimizer;
/* DIS intermediate targets: what a not-yet-revealed cell of the answer holds at step s. */
typedef enum trm_corruption {
    TRM_CORRUPTION_PATH = 0,  /* the input's value: a random-order path from input to label (official code) */
    TRM_CORRUPTION_MASK = 1,  /* mask_token */
    TRM_CORRUPTION_RANDOM = 2, /* a random token, drawn each time the example is sampled */
    TRM_CORRUPTION_DATASET = 3 /* the dataset's own targets (<set>__intermediate_steps.npy; added in 0.4) */
} trm_corruption;
typedef enum trm_step_weights {
    TRM_STEP_WEIGHTS_CONSTANT = 0, /* every supervision step weighs 1 (official code) */
    TRM_STEP_WEIGHTS_LINEAR = 1    /* w_s = 2s/(N_sup+1) */
} trm_step_weights;

/* What a training step reports. Filled by the library, which sets struct_size to sizeof(trm_step_info). */
typedef struct trm_step_info {
    size_t struct_size;
    int64_t step;                  /* trainer steps of this trm_trainer_run so far, from 1 (1 for trm_trainer_step);
                                      a DIS step is one mini-batch of N_sup supervision steps, a TRM step one
                                      supervision step of every batch slot */
    int64_t total_steps;           /* the run's max_steps, 0 if unbounded (1 for trm_trainer_step) */
    int64_t optimizer_steps;       /* optimiser updates since the trainer began (drives the schedule) */
    int64_t examples_seen;         /* examples drawn since the trainer began */
    int64_t finished;              /* examples finished this step (DIS: the batch; TRM: the slots that halted) */
    double elapsed;                /* seconds since trm_trainer_run began (the step's time for trm_trainer_step) */
    double loss;                   /* mean loss of the step */
    double token_accuracy;         /* of the finished examples: mean fraction of right non-ignored cells */
    double exact_accuracy;         /* of the finished examples: fraction entirely right */
    double halt_accuracy;          /* TRM: fraction whose halting decision matched correctness; NaN otherwise */
    double mean_steps;             /* TRM: mean supervision steps of the finished examples; NaN otherwise */
    double net_calls_per_example;  /* network applications per finished example */
    double examples_per_second;
    double learning_rate;          /* the rate of the step's last update */
    int32_t has_eval;              /* 1 when an evaluation ran after this step (eval_every) */
    double eval_exact_accuracy;    /* that evaluation's exact and token accuracy (NaN without one) */
    double eval_token_accuracy;
} trm_step_info;

/* Called after every step of trm_trainer_run, on the calling thread, with an info record valid during the
 * call. Return true to continue, false to stop: the run then returns TRM_ERR_ABORTED. */
typedef bool (*trm_progress_callback)(const trm_step_info *info, void *user_data);

/* Data-parallel training (docs/distributed.md): sums data[0..count) element-wise over all ranks, in place,
 * e.g. MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, comm) (count may exceed INT_MAX only for
 * models of over 2^31 parameters). A trainer calls it on the thread running trm_trainer_run or
 * trm_trainer_step, after every backward and once or twice per step for metrics and stop decisions; every
 * rank makes the same calls with the same counts in the same order. Return 0 on success; any other value
 * fails the step with TRM_ERR_IO (the weights may then differ between ranks: resume from a checkpoint). */
typedef int (*trm_allreduce_fn)(void *user_data, float *data, size_t count);

/* How a trainer trains (the hyper-parameters) and how trm_trainer_run runs (the loop). Enums are int32_t;
 * defaults (trm_train_params_init) are the reference's. */
typedef struct trm_train_params {
    size_t struct_size;            /* sizeof(trm_train_params), set by trm_train_params_init */
    int32_t method;                /* trm_method: TRM_METHOD_DIS */
    int32_t batch_size;            /* examples per step, 1...1048576: 64 */
    uint64_t seed;                 /* sampling order, DIS reveal orders, TRM exploration: 0 */
    int32_t loss;                  /* trm_loss: TRM_LOSS_STABLEMAX */
    int32_t optimizer;             /* trm_optimizer: TRM_OPTIMIZER_ADAM_ATAN2 */
    float learning_rate;           /* peak rate, >= 0: 1e-4 */
    int64_t warmup_steps;          /* linear warm-up in OPTIMISER steps (a DIS trainer step makes N_sup of them,
                                      a TRM-ACT step one), >= 0: 2000 */
    int64_t total_steps;           /* optimiser steps the cosine decay spans, >= 1: 100000 */
    float min_lr_ratio;            /* in [0, 1]; 1 = constant after warm-up (reference), < 1 = cosine: 1 */
    float beta1;                   /* in [0, 1): 0.9 */
    float beta2;                   /* in [0, 1): 0.95 */
    float weight_decay;            /* >= 0: 0.1 */
    float puzzle_emb_lr;           /* puzzle-embedding rate (sign SGD), >= 0: 1e-2 */
    float puzzle_emb_weight_decay; /* >= 0: 0.1 */
    float grad_clip;               /* clip the global gradient norm to this; 0 = off (default) */
    float ema_rate;                /* EMA of the weights for evaluation and checkpoints, in (0, 1); 0 = off;
                                      -1 = the method's default: 0.999 for TRM, off for DIS (default) */
    int32_t corruption;            /* DIS: trm_corruption: TRM_CORRUPTION_PATH */
    int32_t mask_token;            /* DIS: the mask kernel's token, inside the vocabulary: 0 */
    int32_t feedback_predictions;  /* DIS: 1 = feed each step's argmax back as the next input (official): 1 */
    int32_t step_weights;          /* DIS: trm_step_weights: TRM_STEP_WEIGHTS_CONSTANT */
    int32_t optimizer_step_per_supervision_step; /* DIS: 1 = update after every supervision step, 0 = per batch: 1 */
    float halt_exploration_prob;   /* TRM: in [0, 1]: 0.1 */
    float halt_loss_weight;        /* TRM: weight of the halting BCE, >= 0: 0.5 */
    /* trm_trainer_run's loop: */
    int64_t max_steps;             /* TRAINER steps per run (DIS: mini-batches of N_sup optimiser steps; TRM-ACT:
                                      one supervision step of every slot); 0 = no limit (default) */
    double max_seconds;            /* wall-clock budget per run; 0 = no limit (default) */
    int64_t eval_every;            /* evaluate every this many steps (needs an evaluation dataset); 0 = only at
                                      the end of a run that is not stopped (default) */
    int64_t eval_limit;            /* evaluate at most this many examples; 0 = all (default) */
    int64_t checkpoint_every;      /* write a checkpoint every this many steps (needs checkpoint_dir); 0 = only at
                                      the end of a run that is not stopped, if checkpoint_dir is set (default) */
    const char *checkpoint_dir;    /* UTF-8 directory for checkpoints (created if needed; copied); NULL = none */
    trm_progress_callback progress; /* NULL = none (default) */
    void *progress_user_data;
    /* Data-parallel training: world_size processes each create a trainer with the same params (batch_size is
       the global batch), model seed and datasets, and rank r computes its contiguous slice of every global
       batch; the gradients are summed with `allreduce`, so all ranks take the same steps. Rank 0 alone
       evaluates and writes checkpoints; every rank gets the global step's metrics. */
    int32_t allow_other_dataset;   /* trm_trainer_resume: 1 resumes a checkpoint on a dataset other than the one it
                                      was trained on (refused by default: the checkpoint records a fingerprint): 0 */
    int32_t rank;                  /* this process, 0...world_size-1: 0 */
    int32_t world_size;            /* processes training together, 1...65536, at most batch_size: 1 */
    trm_allreduce_fn allreduce;    /* required when world_size > 1 (also called when 1); NULL (default) */
    void *allreduce_user_data;
} trm_train_params;

/* Fills `params` with the defaults above and sets struct_size. NULL does nothing. */
void trm_train_params_init(trm_train_params *params);

/* Fills `params` (every field, struct_size included) with a named recipe for `method` (a trm_method):
 *   "paper"       the official runs' settings, as trm_train_params_init (lr 1e-4, warm-up 2000 optimiser steps,
 *                 batch 64, weight decay 0.1; EMA 0.999 for TRM-ACT): made for long GPU runs;
 *   "small-task"  a task a CPU learns in minutes: lr 1e-3, warm-up 100, batch 32, weight decay 0.01, gradient
 *                 norm clipped at 1, no EMA.
 * docs/your-task.md has what each reaches on a toy task. TRM_ERR_INVALID_ARG for another name or method;
 * `params` is untouched then. */
int trm_train_params_recipe(const char *name, int32_t method, trm_train_params *params);

/* Trains one model: optimiser state, EMA, sampler, activations, all allocated here once. */
typedef struct trm_trainer trm_trainer;

/* Creates a trainer of `model` on `train` (seq_len and tokens must fit the model), with `eval` (or NULL)
 * for evaluations. The trainer records its method on the model (trm_model_protocol). TRM_METHOD_TRM on a model
 * with a time embedding trains row 1 of the table only and logs a warning (see trm_model_config_for_method). The trainer changes the model's weights in place and keeps it alive: trm_model_free may
 * be called on it at any time. The datasets and `params` (including checkpoint_dir) are copied; params may
 * be NULL for the defaults. */
int trm_trainer_create(trm_model *model, const trm_dataset *train, const trm_dataset *eval,
                       const trm_train_params *params, trm_trainer **out);

/* Rebuilds a trainer from the checkpoint in `directory` (written by trm_trainer_save_checkpoint or by a run
 * with checkpoint_dir): a new model with the saved weights, the optimiser, EMA, sampler and RNG states, so
 * that training continues exactly as if it had not stopped. The training hyper-parameters are the
 * checkpoint's: only the loop fields of `params` (max_steps ... progress_user_data), allow_other_dataset and the
 * data-parallel fields (rank ... allreduce_user_data) are used, and params may be NULL for the defaults. A checkpoint
 * written by any number of ranks resumes on any other number. `train` must be the dataset the checkpoint was
 * trained on: the checkpoint records its fingerprint, and another dataset is refused (TRM_ERR_INVALID_ARG) unless
 * params->allow_other_dataset is 1. Get the model
 * with trm_trainer_model. */
int trm_trainer_resume(const char *directory, const trm_dataset *train, const trm_dataset *eval,
                       const trm_train_params *params, trm_trainer **out);

/* Releases a trainer (and its model, unless other handles hold it). NULL does nothing. */
void trm_trainer_free(trm_trainer *trainer);

/* The model the trainer trains, borrowed: valid while the trainer lives, usable with every trm_model_*
 * function, never to be passed to trm_model_free. Its weights are the raw training weights (the EMA copy is
 * what trm_trainer_evaluate and checkpoints' model.safetensors use). */
int trm_trainer_model(trm_trainer *trainer, trm_model **model);

/* Trains for params->max_steps steps or max_seconds seconds, evaluating and checkpointing as configured and
 * calling params->progress after every step. Then, if the run was not stopped: a last checkpoint (with
 * checkpoint_dir) and a last evaluation (with an evaluation dataset) into *eval_out. eval_out may be NULL;
 * without an evaluation dataset it receives examples = 0, n_steps = 0. Returns TRM_ERR_ABORTED when the
 * callback returned false or trm_trainer_request_stop was called; the trainer stays usable (a later run or
 * step continues where this one stopped). With neither max_steps nor max_seconds, only those stop it.
 * Data-parallel: every rank calls it; before each step the ranks agree whether to stop (max_seconds, the
 * callback or a stop request on any rank stops all), and ranks other than 0 get no evaluation (examples 0). */
int trm_trainer_run(trm_trainer *trainer, trm_eval_result *eval_out);

/* One training step, outside any run; *info (whose struct_size the caller sets to sizeof(trm_step_info))
 * receives its report, or info may be NULL. */
int trm_trainer_step(trm_trainer *trainer, trm_step_info *info);

/* Asks a running trm_trainer_run to stop after its current step; a request made while no run is in
 * progress stops the next run before its first step. Each run clears the request when it returns.
 * May be called from any thread, and from a signal handler: it takes no lock and allocates nothing, and for
 * the same reason does not set trm_last_error. Returns TRM_OK, or TRM_ERR_INVALID_ARG if `trainer` is not a
 * live trainer. */
int trm_trainer_request_stop(trm_trainer *trainer);

/* Writes a checkpoint into `directory` (created if needed): model.safetensors (the evaluation weights, in
 * the format of trm_model_save) and state.safetensors (everything trm_trainer_resume needs). Both files are
 * written atomically. May be called from the progress callback. Data-parallel: every rank must call it
 * (TRM gathers its batch slots with the allreduce); rank 0 alone writes, the others return TRM_OK. */
int trm_trainer_save_checkpoint(trm_trainer *trainer, const char *directory);

/* Evaluates with the evaluation weights (the EMA copy when ema_rate is set, else the raw weights, which are
 * restored afterwards) and the model's default inference (its supervision_steps, feedback as trained).
 * dataset: NULL for the trainer's evaluation dataset (at most eval_limit examples), or another one (all
 * examples). May be called from the progress callback. */
int trm_trainer_evaluate(trm_trainer *trainer, const trm_dataset *dataset, trm_eval_result *out);

#ifdef __cplusplus
}
#endif
#endif /* TRMDIS_H */
