#if canImport(Glibc)
import Glibc
#endif

/// The cross-entropy variants of the reference (docs/model.md: TRM-ACT).
public enum LossKind: String, Codable, Sendable, CaseIterable {
    /// Ordinary softmax cross-entropy.
    case softmax
    /// Stablemax: s(x) = x + 1 for x ≥ 0 and 1/(1 − x) for x < 0, normalised over the vocabulary.
    case stablemax
}

/// Losses with their gradients, accumulated in Float64 (docs/model.md: TRM-ACT).
public enum Losses {
    /// Labels equal to this are ignored.
    public static let ignoreLabel: Int32 = -100

    /// The language-model loss Σ_b (Σ_t CE_bt / max(count_b, 1)): the per-example token mean, summed over
    /// the batch. Writes dLogits = gradScale·∂loss/∂logits when given, and each example's token-mean
    /// loss into `perExample`. Labels must be in 0..<vocab or `ignoreLabel`.
    @discardableResult
    public static func crossEntropy(
        _ kind: LossKind, logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
        batch: Int, seqLen: Int, vocab: Int, gradScale: Float = 1,
        dLogits: UnsafeMutablePointer<Float>? = nil, perExample: UnsafeMutablePointer<Double>? = nil
    ) throws(TRMError) -> Double {
        for i in 0..<batch * seqLen where labels[i] != ignoreLabel && !(0..<Int32(vocab)).contains(labels[i]) {
            throw .invalidArgument("label \(labels[i]) at index \(i) is outside [0, \(vocab)) and is not -100")
        }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: batch) { losses in
            let data = (logits: logits, labels: labels, dLogits: dLogits, losses: losses.baseAddress!)
            Threads.pool.parallelFor(batch, (kind, data, seqLen, vocab, gradScale)) { args, range in
                let (kind, data, seqLen, vocab, gradScale) = args
                let (logits, labels, dLogits, losses) = data
                for b in range {
                    losses[b] = exampleLoss(kind, logits + b * seqLen * vocab, labels + b * seqLen, seqLen, vocab,
                                            gradScale, dLogits.map { $0 + b * seqLen * vocab })
                }
            }
            var total = 0.0  // summed in example order, whatever the thread count
            for b in 0..<batch {
                perExample?[b] = losses[b]
                total += losses[b]
            }
            return total
        }
    }

    @inline(__always)
    private static func exampleLoss(_ kind: LossKind, _ logits: UnsafePointer<Float>, _ labels: UnsafePointer<Int32>,
                                    _ seqLen: Int, _ vocab: Int, _ gradScale: Float,
                                    _ dLogits: UnsafeMutablePointer<Float>?) -> Double {
        var count = 0
        for t in 0..<seqLen where labels[t] != ignoreLabel { count += 1 }
        let divisor = Double(max(count, 1))
        let g = Double(gradScale) / divisor
        var sum = 0.0
        for t in 0..<seqLen {
            let l = logits + t * vocab
            let label = Int(labels[t])
            guard labels[t] != ignoreLabel else {
                if let dLogits { for i in 0..<vocab { dLogits[t * vocab + i] = 0 } }
                continue
            }
            switch kind {
            case .softmax:
                var m = -Double.infinity
                for i in 0..<vocab { m = max(m, Double(l[i])) }
                var s = 0.0
                for i in 0..<vocab { s += exp(Double(l[i]) - m) }
                sum += log(s) + m - Double(l[label])
                if let dLogits {
                    for i in 0..<vocab {
                        let p = exp(Double(l[i]) - m) / s
                        dLogits[t * vocab + i] = Float(g * (p - (i == label ? 1 : 0)))
                    }
                }
            case .stablemax:
                var s = 0.0
                for i in 0..<vocab { s += stablemaxS(Double(l[i])) }
                let sy = stablemaxS(Double(l[label]))
                sum += -log(sy / s)
                if let dLogits {
                    for i in 0..<vocab {
                        let x = Double(l[i])
                        var d = stablemaxSPrime(x) / s
                        if i == label { d -= stablemaxSPrime(x) / sy }
                        dLogits[t * vocab + i] = Float(g * d)
                    }
                }
            }
        }
        return sum / divisor
    }

    /// s(x) = x + 1 (x ≥ 0), 1/(1 − x + 1e-30) (x < 0).
    @inline(__always)
    public static func stablemaxS(_ x: Double) -> Double { x >= 0 ? x + 1 : 1 / (1 - x + 1e-30) }

    @inline(__always)
    static func stablemaxSPrime(_ x: Double) -> Double {
        if x >= 0 { return 1 }
        let u = 1 - x + 1e-30
        return 1 / (u * u)
    }

    /// Stablemax probabilities of one row of logits (for tests and inspection).
    public static func stablemax(_ logits: [Float]) -> [Double] {
        let s = logits.map { stablemaxS(Double($0)) }
        let total = s.reduce(0, +)
        return s.map { $0 / total }
    }

    /// Σ_i BCEWithLogits(logits[i·stride], targets[i]); writes gradScale·(σ(x) − t) into
    /// dLogits[i·stride] when given. The reference sums over the batch (docs/model.md: TRM-ACT).
    @discardableResult
    public static func bceWithLogits(logits: UnsafePointer<Float>, stride: Int = 1, targets: UnsafePointer<Float>,
                                     count: Int, gradScale: Float = 1,
                                     dLogits: UnsafeMutablePointer<Float>? = nil) -> Double {
        var total = 0.0
        for i in 0..<count {
            let x = Double(logits[i * stride]), t = Double(targets[i])
            total += max(x, 0) - x * t + log1p(exp(-abs(x)))
            if let dLogits { dLogits[i * stride] = Float(Double(gradScale) * (1 / (1 + exp(-x)) - t)) }
        }
        return total
    }
}
