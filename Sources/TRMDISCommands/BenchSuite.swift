#if canImport(Glibc)
import Glibc
#endif
import TRMDIS
import TRMDISTasks

/// The named benchmark configurations of issue 6, the same as `BENCH_CONFIGS` in
/// bench/torch_reference.py: vocabulary and sequence from the task, fp32.
struct BenchConfig {
    let name: String
    let model: ModelConfig
    let batch: Int
    let method: TrainingConfig.Method

    static let names = ["tiny", "compact", "medium", "sudoku-mlp"]

    static func named(_ name: String) -> BenchConfig? {
        switch name {
        case "tiny":  // N-Queens 8x8 (seq 64, no prefix, vocab 3); D 128, 1 layer, 4 heads; DIS T 1 n 2 N_sup 8.
            var c = Preset.nqueens.config
            c.hiddenSize = 128
            c.numHeads = 4
            return BenchConfig(name: name, model: c, batch: 64, method: .dis)
        case "compact":  // dis-compact on 9x9 Sudoku shapes (seq 81 + 16 prefix, vocab 11); DIS T 1 n 2 N_sup 6.
            return BenchConfig(name: name, model: sudokuShapes(.disCompact), batch: 64, method: .dis)
        case "medium":  // dis-medium (D 512, 2 layers) on the same shapes.
            return BenchConfig(name: name, model: sudokuShapes(.disMedium), batch: 32, method: .dis)
        case "sudoku-mlp":  // the preset; one TRM supervision step (T 3 n 6).
            return BenchConfig(name: name, model: Preset.sudokuMLP.config, batch: 32, method: .trm)
        default:
            return nil
        }
    }

    private static func sudokuShapes(_ p: Preset) -> ModelConfig {
        var c = p.config
        c.vocabSize = 11
        c.seqLen = 81
        return c
    }
}

/// Measures one named configuration in this process: training throughput (the real `Trainer`), or
/// full inference latency (the real `Predictor`, N_sup steps, batch 1 and 64). Prints one JSON object.
enum BenchSuite {
    static func run(_ b: BenchConfig, mode: String, repeats: Int, inferBatches: [Int] = [1, 64],
                    gemmProfile: Bool = false) throws -> [String: Any] {
        let c = b.model
        let model = try Model(config: c, seed: 0)
        let blas = BLASInfo.current
        var record: [String: Any] = ["config": b.name, "mode": mode, "threads": Threads.count,
                                     "params": model.parameterCount, "method": b.method.rawValue,
                                     "blas_core": blas.core, "blas_detected_core": blas.detectedCore,
                                     "blas_corrected": blas.corrected, "cpu_isa": blas.isa, "elementwise": Elementwise.name,
                                     "blas_version": blas.version, "blas_coretype_env": blas.coreTypeFromEnvironment ?? "",
                                     "blas_warning": blas.warning ?? ""]
        var profile = Profile(enabled: gemmProfile)
        switch mode {
        case "train": try train(b, model: model, repeats: repeats, profile: &profile, into: &record)
        case "infer":
            try infer(b, model: model, repeats: repeats, batches: inferBatches, profile: &profile, into: &record)
        default: throw TRMError.invalidArgument("mode must be train or infer")
        }
        if gemmProfile { record["gemm_profile"] = profile.lines() }
        if record["peak_rss_mib"] == nil { record["peak_rss_mib"] = Double(peakRSSBytes()) / 1_048_576 }
        return record
    }

    /// Random examples (inputs and labels drawn independently, as in the PyTorch benchmark).
    static func examples(_ c: ModelConfig, count: Int) -> ExampleSet {
        var rng = RNG(seed: 1)
        let n = count * c.seqLen
        let inputs = (0..<n).map { _ in Int32(rng.below(c.vocabSize)) }
        let labels = (0..<n).map { _ in Int32(rng.below(c.vocabSize)) }
        return ExampleSet(seqLen: c.seqLen, inputs: inputs, labels: labels)
    }

    /// One `trainStep` is a DIS mini-batch (N_sup optimiser steps) or one TRM supervision step; the
    /// figure is per optimiser step = per supervision step, so it compares with PyTorch's one step.
    static func train(_ b: BenchConfig, model: Model, repeats: Int, profile: inout Profile,
                      into r: inout [String: Any]) throws {
        let c = b.model
        var t = TrainingConfig()
        t.method = b.method
        t.batchSize = b.batch
        t.warmupSteps = 0
        let trainer = try Trainer(model: model, examples: examples(c, count: 4 * b.batch), config: t)
        let stepsPerCall = b.method == .dis ? c.supervisionSteps : 1
        // The sgemm yardstick is sampled after every timed repetition, so it covers the same minutes as the
        // steps. Training's peak RSS is read before the samples allocate their three 2048² matrices: a step
        // allocates nothing after warm-up (examples/c/alloc_test.c counts it), so one repetition has reached it.
        var samples: SGEMMSamples?
        var peakRSS = 0
        let times = try timed(warmup: 1, repeats: repeats, profile: &profile, label: "training") {
            _ = try trainer.trainStep()
        } afterEach: {
            if samples == nil {
                peakRSS = peakRSSBytes()
                samples = SGEMMSamples()
            }
            samples?.take(3)
        }
        let seconds = median(times) / Double(stepsPerCall)
        let flops = c.flopsPerStep(training: true) * Double(b.batch)
        r["batch"] = b.batch
        r["ms"] = seconds * 1000
        r["ms_all"] = times.map { $0 * 1000 / Double(stepsPerCall) }
        r["examples_steps_per_s"] = Double(b.batch) / seconds
        r["gflops"] = flops / seconds / 1e9
        r["peak_rss_mib"] = Double(peakRSS) / 1_048_576
        // The share of the peak divides the median step by the median sample (docs/performance.md, "The
        // share of the sgemm peak"); the best sample is kept beside it.
        r["sgemm_peak_gflops"] = (samples?.median ?? 0) / 1e9
        r["sgemm_best_gflops"] = (samples?.best ?? 0) / 1e9
        r["sgemm_samples_gflops"] = samples?.rates.map { $0 / 1e9 } ?? []
        // The memory yardstick: weights, gradients and the two Adam moments (4 floats per parameter),
        // the puzzle table, and the activations the gradient-bearing cycle keeps for backward.
        let p = Double(model.parameterCount) * 4
        r["params_mib"] = p / 1_048_576
        r["optimizer_mib"] = 3 * p / 1_048_576  // gradients + m + v
        r["activations_mib"] = Double(trainer.runner.activationBytes) / 1_048_576
        r["runner_mib"] = Double(trainer.runner.memoryBytes) / 1_048_576
        r["estimate_mib"] = (4 * p + Double(c.numPuzzleIdentifiers * c.puzzleEmbDim * 4)
                             + Double(trainer.runner.activationBytes)) / 1_048_576
    }

    /// Full inference from a fresh carry: N_sup supervision steps without gradient, predictions fed back
    /// (DIS), at batch 1 and batch 64.
    static func infer(_ b: BenchConfig, model: Model, repeats: Int, batches: [Int], profile: inout Profile,
                      into r: inout [String: Any]) throws {
        let c = model.config
        let set = examples(c, count: max(64, batches.max() ?? 1))
        for batch in batches {
            let predictor = try Predictor(model: model, batchSize: batch)
            let options = InferenceOptions()
            // Batch 1 is quick: more repeats for a stable median.
            let n = batch == 1 ? max(repeats, 20) : repeats
            let times = try set.inputs.withUnsafeBufferPointer { inputs in
                try timed(warmup: batch == 1 ? 3 : 1, repeats: n, profile: &profile, label: "batch \(batch)") {
                    try predictor.run(inputs: inputs.baseAddress!, puzzleIds: nil, count: batch, options: options) { _ in }
                }
            }
            r["infer_b\(batch)_ms"] = median(times) * 1000
        }
        r["infer_steps"] = c.supervisionSteps
    }

    /// `body` after `warmup` untimed runs, `repeats` times; `afterEach` runs untimed after every timed run.
    static func timed(warmup: Int, repeats: Int, profile: inout Profile, label: String,
                      _ body: () throws -> Void, afterEach: () -> Void = {}) throws -> [Double] {
        for _ in 0..<warmup { try body() }
        if profile.enabled { GEMMProfile.start() }
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = monotonicSeconds()
            try body()
            times.append(monotonicSeconds() - t0)
            afterEach()
        }
        if profile.enabled {
            let (products, between) = GEMMProfile.stop()
            profile.sections.append((label, products, between, times.count, times.reduce(0, +)))
        }
        return times
    }

    /// `--gemm-profile`: the matrix products of the timed repetitions, by shape, per repetition. The products
    /// split across the pool are timed (every projection and its gradients); attention's per-head score
    /// products run inside its own parallel loop, with the softmax, and count with the rest.
    struct Profile {
        let enabled: Bool
        var sections: [(label: String, entries: [GEMMProfile.Entry], between: [GEMMProfile.Entry], repeats: Int,
                        seconds: Double)] = []

        func lines() -> [String] {
            sections.flatMap { s -> [String] in
                let per = Double(s.repeats)
                let inProducts = s.entries.reduce(0) { $0 + $1.seconds }
                let flops = s.entries.reduce(0) { $0 + $1.flops }
                let head = "gemm, \(s.label): \(fmt(100 * inProducts / s.seconds))% of "
                    + "\(fmt(1000 * s.seconds / per)) ms per repetition in products, \(fmt(flops / inProducts / 1e9)) GFLOP/s"
                let products = s.entries.map { e in
                    "gemm: \(fmt(100 * e.seconds / s.seconds))%  \(fmt(1000 * e.seconds / per)) ms  "
                        + "\(fmt(e.flops / e.seconds / 1e9)) GFLOP/s  \(e.calls / s.repeats) calls  \(e.shape)"
                }
                let between = s.between.reduce(0) { $0 + $1.seconds }
                let rest = "between products: \(fmt(100 * between / s.seconds))% in the sections below, "
                    + "\(fmt(100 * (s.seconds - inProducts - between) / s.seconds))% elsewhere"
                return [head] + products + [rest] + s.between.map { e in
                    let rate = e.flops > 0 ? "\(fmt(e.flops / e.seconds / 1e9)) GFLOP/s  " : ""
                    return "between: \(fmt(100 * e.seconds / s.seconds))%  \(fmt(1000 * e.seconds / per)) ms  "
                        + "\(rate)\(e.calls / s.repeats) calls  \(e.shape)"
                }
            }
        }
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// ru_maxrss of this process (KiB on Linux).
    static func peakRSSBytes() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    /// One JSON object with sorted keys; values are numbers, strings or arrays of numbers.
    static func json(_ r: [String: Any]) -> String {
        func value(_ v: Any) -> String {
            switch v {
            case let d as Double: return d.isFinite ? "\(d)" : "null"
            case let i as Int: return "\(i)"
            case let b as Bool: return b ? "true" : "false"
            case let s as String: return "\"\(s)\""
            case let a as [Double]: return "[" + a.map { value($0) }.joined(separator: ",") + "]"
            case let a as [String]: return "[" + a.map { value($0) }.joined(separator: ",") + "]"
            default: return "null"
            }
        }
        return "{" + r.keys.sorted().map { "\"\($0)\":\(value(r[$0]!))" }.joined(separator: ",") + "}"
    }
}
