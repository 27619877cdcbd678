# libtrmdis build and test entry points. `make test` runs every test: Swift, C and Python.
SWIFT ?= swift
VENV  ?= .venv
PY    := $(VENV)/bin/python
# libtrmdis.so links the Swift runtime statically so it loads where no Swift toolchain is installed.
STATIC_FLAGS := -c release -Xswiftc -static-stdlib --scratch-path .build-static

.PHONY: all deps lib cli mpi install demo test test-swift test-c test-cpus test-python test-python-tree python-install venv bench test-bench experiment experiment-sweep experiment-quick test-experiment experiment-venv clean

all: lib cli

deps: build/.trmdis-h-checked
	@scripts/install-deps.sh

# SwiftPM does not rebuild TRMDISCAPI when the system-library header it imports (Include/trmdis.h, as
# CTRMDIS) changes, so an edited header would go unchecked against the exports until a clean build.
# Whenever the header changes, drop that module's object files in every build directory: the compiler
# then runs again and checks every @c @implementation against the new declarations.
build/.trmdis-h-checked: Include/trmdis.h
	rm -f .build*/*/TRMDISCAPI.build/*.o
	@mkdir -p build
	@touch $@

# The C library's ABI major version (TRM_ABI_VERSION), which its SONAME carries, and its version.
ABI := $(shell sed -n 's/^\#define TRM_ABI_VERSION \([0-9]*\)/\1/p' Include/trmdis.h)
VERSION := $(shell sed -n 's/^\#define TRM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' Include/trmdis.h | paste -sd.)
PREFIX ?= /usr/local

# build/lib/libtrmdis.so.$(ABI) (the C library of Include/trmdis.h, SONAME libtrmdis.so.$(ABI)) and the
# libtrmdis.so link that `-ltrmdis` finds.
lib: deps
	$(SWIFT) build $(STATIC_FLAGS) --product TRMDISCAPI
	@mkdir -p build/lib
	cp .build-static/release/libTRMDISCAPI.so build/lib/libtrmdis.so.$(ABI)
	ln -sf libtrmdis.so.$(ABI) build/lib/libtrmdis.so

# The C library as a system library: PREFIX/lib/libtrmdis.so.$(ABI) (+ the libtrmdis.so link),
# PREFIX/include/trmdis.h and PREFIX/lib/pkgconfig/trmdis.pc, so that
# `cc app.c $$(pkg-config --cflags --libs trmdis)` builds a program against it.
install: lib
	install -d $(PREFIX)/lib/pkgconfig $(PREFIX)/include
	install -m 755 build/lib/libtrmdis.so.$(ABI) $(PREFIX)/lib/
	ln -sf libtrmdis.so.$(ABI) $(PREFIX)/lib/libtrmdis.so
	install -m 644 Include/trmdis.h $(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@ABI@|$(ABI)|' scripts/trmdis.pc.in \
	    > $(PREFIX)/lib/pkgconfig/trmdis.pc

# build/bin/trmdis: the command line, with the Swift runtime linked in as the library has it: the same
# build (one compilation for both), a binary that runs without a Swift toolchain, and about 3 MiB less
# resident memory than loading the runtime's shared libraries (docs/performance.md: memory).
cli: deps
	$(SWIFT) build $(STATIC_FLAGS) --product trmdis
	@mkdir -p build/bin
	cp .build-static/release/trmdis build/bin/trmdis.tmp
	mv build/bin/trmdis.tmp build/bin/trmdis

# build/bin/trmdis-mpi: the command line's `train` over MPI (mpirun -np N build/bin/trmdis-mpi train ...).
mpi: deps
	$(SWIFT) build -c release --product trmdis-mpi
	@mkdir -p build/bin
	cp .build/release/trmdis-mpi build/bin/trmdis-mpi

# The README's first command: a trained DIS model solving unseen puzzles, then two minutes of training.
demo:
	@scripts/demo.sh

# Everything the README's examples use is built too (build/bin/trmdis: the CLI tests of pytest run it).
test: test-swift test-c test-python test-cpus test-experiment test-bench

test-python: cli

# Optimised build with testability: the gradient checks and learning tests run in seconds, not minutes.
# It builds every target, trmdis-mpi included; MPITests run it under mpirun with 2 ranks.
# Then the kernels' and layers' tests again with the engine capped at AVX2 (TRMDIS_KERNELS): on a CPU with AVX-512
# too, the paths an AVX2-only CPU runs (the one-pass mixer among them) are tested.
test-swift: deps
	$(SWIFT) test -c release -Xswiftc -enable-testing --scratch-path .build-test
	TRMDIS_KERNELS=avx2 $(SWIFT) test -c release -Xswiftc -enable-testing --scratch-path .build-test --skip-build \
	    --filter 'KernelTests|ConventionTests|LayerGradientTests|StepGradientTests|MemoryTests|InferenceProtocolTests'

# The C tests, then the C example built the way the README shows, against an installed copy.
test-c: lib
	$(MAKE) -C examples/c run
	@scripts/check-install.sh

venv:
	@scripts/make-venv.sh $(VENV)

# The CLI, the C example and the Python package on emulated CPUs (qemu-user): an AVX2 CPU that OpenBLAS
# does not know, the same with a generic core forced by the user, and an SSE-only CPU.
test-cpus: cli lib venv
	$(MAKE) -s -C examples/c all
	PY=$(PY) scripts/check-emulated-cpus.sh

# The Python package as users install it: `pip wheel ./bindings/python` (its build step compiles
# libtrmdis.so into the package), installed into a fresh venv, the pytest suite run against that copy.
test-python: lib
	@scripts/test-wheel.sh

# The pytest suite against the source tree and build/lib/libtrmdis.so (quicker while developing).
test-python-tree: lib venv
	TRMDIS_LIBRARY=$(CURDIR)/build/lib/libtrmdis.so $(PY) -m pytest -q bindings/python/tests

# The Python package into the current environment (a venv): libtrmdis.so is built into it.
python-install: deps
	pip install ./bindings/python

# Engine vs PyTorch on the named configurations, in one invocation (bench/run.sh builds its own binary
# into .build-bench; PyTorch from .venv-torch if present); see docs/performance.md.
bench: deps
	bench/run.sh

# The benchmark's own logic, without timing anything: an interrupted run continues, and both shares of the sgemm
# peak are printed (bench/test_compare.py).
test-bench:
	python3 bench/test_compare.py

# DIS against two TRM-ACT baselines on four CPU-sized tasks (scripts/experiment.py). experiment-sweep chooses
# each method's learning rate and EMA on a validation split carved from the training data and writes
# scripts/experiment_settings.json (about an hour); experiment trains the final runs with those settings,
# three seeds, and writes docs/results.md with its figures (at most 150 minutes on 2 cores); experiment-quick
# runs the same pipeline in about five minutes (docs/results-quick.md). All three continue an interrupted
# run: results are kept under build/experiment/<mode>/. EXPERIMENT_SCALE multiplies every training budget;
# EXPERIMENT_TASKS picks tasks (comma-separated).
EXP_VENV ?= .venv-experiment
EXPERIMENT_SCALE ?= 1
EXPERIMENT_TASKS ?= sudoku4,sudoku6,maze7,nqueens8
EXPERIMENT_ARGS = --bin build/bin/trmdis --minutes-scale $(EXPERIMENT_SCALE) --tasks $(EXPERIMENT_TASKS)

experiment-venv:
	@scripts/make-experiment-venv.sh $(EXP_VENV)

# The experiment's own checks (seconds, no training: the validation split, job order, scoring, the report).
test-experiment: experiment-venv
	$(EXP_VENV)/bin/python scripts/test_experiment.py

experiment-sweep: cli experiment-venv
	$(EXP_VENV)/bin/python scripts/experiment.py --mode sweep $(EXPERIMENT_ARGS)

experiment: cli experiment-venv
	$(EXP_VENV)/bin/python scripts/experiment.py --mode full $(EXPERIMENT_ARGS)

experiment-quick: cli experiment-venv
	$(EXP_VENV)/bin/python scripts/experiment.py --mode quick $(EXPERIMENT_ARGS)

clean:
	rm -rf .build .build-static .build-test build
