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

/// Measured single-precision matrix-multiply throughput of this machine (FLOP/s).
func sgemmPeak(size n: Int = 2048) -> Double {
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    a.initialize(repeating: 0.5, count: n * n)
    b.initialize(repeating: 0.25, count: n * n)
    c.initialize(repeating: 0, count: n * n)
    sgemm(transA: false, transB: false, m: n, n: n, k: n, a, lda: n, b, ldb: n, c, ldc: n)
    var best = Double.infinity
    for _ in 0..<3 {
        let t0 = monotonicSeconds()
        sgemm(transA: false, transB: false, m: n, n: n, k: n, a, lda: n, b, ldb: n, c, ldc: n)
        best = min(best, monotonicSeconds() - t0)
    }
    return 2 * Double(n) * Double(n) * Double(n) / best
}
