import ArgumentParser
import TRMDIS
import TRMDISTasks

/// Times one supervision step, forward and forward+backward, and the machine's sgemm peak; or, with
/// `--config`, one of issue 6's named configurations (training or inference; bench/run.sh runs them all
/// against PyTorch).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark one supervision step (forward, and forward+backward) and the sgemm peak.")
    @OptionGroup var model: ModelOptions
    @Option(help: "A named configuration (\(BenchConfig.names.joined(separator: ", "))): measure --mode train (one DIS optimiser step / TRM supervision step, the real trainer) or infer (full DIS inference, batch 1 and 64).")
    var config: String?
    @Option(help: "With --config: train or infer.") var mode = "train"
    @Flag(help: "With --config: print the record as one JSON line.") var json = false
    @Option(help: "With --mode infer: the batch sizes (comma-separated).") var inferBatches = "1,64"
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Timed repetitions (the median is reported).") var repeats = 3
    @Option(help: "Threads for the kernels and OpenBLAS (default: all cores).") var threads: Int?
    @Flag(help: "Skip the sgemm peak measurement.") var noPeak = false
    @Flag(help: "With --config: time every matrix product of the timed repetitions, by shape (a table after the record).")
    var gemmProfile = false

    func run() throws {
        if let threads { try Threads.set(threads) }
        if let config {
            guard let b = BenchConfig.named(config) else {
                throw ValidationError("unknown configuration '\(config)'; choose one of \(BenchConfig.names.joined(separator: ", "))")
            }
            let batches = inferBatches.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }
            let r = try BenchSuite.run(b, mode: mode, repeats: repeats, inferBatches: batches, gemmProfile: gemmProfile)
            if json { print(BenchSuite.json(r)) } else {
                for key in r.keys.sorted() where key != "gemm_profile" { print("\(key): \(r[key]!)") }
                for line in r["gemm_profile"] as? [String] ?? [] { print(line) }
            }
            return
        }
        let c = try model.config()
        let m = try Model(config: c, seed: 0)
        let runner = try Runner(model: m, batchSize: batch)
        var rng = RNG(seed: 1)
        for i in 0..<batch * c.seqLen { runner.tokens[i] = Int32(rng.below(c.vocabSize)) }
        for i in 0..<batch * c.seqLen * c.vocabSize { runner.dLogits[i] = Float(rng.uniform() - 0.5) * 1e-3 }
        let tokens = Double(batch * c.totalLen)
        print(blasLine())
        print("config: \(model.preset) batch \(batch) threads \(Threads.count) tokens/step \(Int(tokens))"
              + " parameters \(m.parameterCount) memory \(runner.memoryBytes / 1_048_576) MiB")
        let forward = try median(repeats) { try runner.forward(requiresGrad: false) }
        let training = try median(repeats) {
            try runner.forward(requiresGrad: true)
            try runner.backward()
        }
        report("forward", seconds: forward, tokens: tokens, flops: c.flopsPerStep(training: false) * Double(batch))
        report("forward+backward", seconds: training, tokens: tokens, flops: c.flopsPerStep(training: true) * Double(batch))
        if !noPeak {
            let peak = sgemmPeak()
            print("sgemm peak (2048^3): \(fmt(peak / 1e9)) GFLOP/s")
        }
    }

    private func median(_ n: Int, _ body: () throws -> Void) throws -> Double {
        try body()  // warm-up
        var times: [Double] = []
        for _ in 0..<max(1, n) {
            let t0 = monotonicSeconds()
            try body()
            times.append(monotonicSeconds() - t0)
        }
        return times.sorted()[times.count / 2]
    }

    private func report(_ label: String, seconds: Double, tokens: Double, flops: Double) {
        print("\(label): \(fmt(seconds * 1000)) ms/step  \(fmt(tokens / seconds)) tokens/s  \(fmt(flops / seconds / 1e9)) GFLOP/s")
    }
}

func fmt(_ x: Double) -> String {
    let scaled = (x * 10).rounded() / 10
    return String(scaled)
}

/// Measured single-precision matrix-multiply throughput of this machine (FLOP/s): the best of three.
func sgemmPeak() -> Double {
    let samples = SGEMMSamples()
    samples.take(3)
    return samples.best
}

/// Timed 2048³ products through the engine's `sgemm` (OpenBLAS split over the pool, as every projection
/// runs), the yardstick of docs/performance.md's share of the peak. A benchmark takes them between its
/// timed repetitions, so the rate they report is the rate this machine delivered while the engine ran:
/// on a virtual machine whose speed jumps between levels held for seconds (81-173 GFLOP/s within one process
/// on run 16's Zen 3), a best of three taken at one moment measures the moment, not the machine.
final class SGEMMSamples {
    private let n = 2048
    private let a, b, c: UnsafeMutablePointer<Float>
    /// FLOP/s of every timed product, in order.
    private(set) var rates: [Double] = []

    init() {
        a = .allocate(capacity: n * n)
        b = .allocate(capacity: n * n)
        c = .allocate(capacity: n * n)
        a.initialize(repeating: 0.5, count: n * n)
        b.initialize(repeating: 0.25, count: n * n)
        c.initialize(repeating: 0, count: n * n)
        product()  // untimed: first touch of C and OpenBLAS's buffers
    }

    deinit { a.deallocate(); b.deallocate(); c.deallocate() }

    private func product() {
        sgemm(transA: false, transB: false, m: n, n: n, k: n, a, lda: n, b, ldb: n, c, ldc: n)
    }

    /// `count` timed products, unrecorded by `--gemm-profile`.
    func take(_ count: Int) {
        GEMMProfile.paused {
            for _ in 0..<count {
                let t0 = monotonicSeconds()
                product()
                rates.append(2 * Double(n) * Double(n) * Double(n) / (monotonicSeconds() - t0))
            }
        }
    }

    var best: Double { rates.max() ?? 0 }
    /// The middle rate; for an even count the higher of the two middle ones, so the yardstick errs high.
    var median: Double { rates.isEmpty ? 0 : rates.sorted()[rates.count / 2] }
}
