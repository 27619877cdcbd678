#if canImport(Glibc)
import Glibc
#endif

/// The reference's sparse SignSGD for puzzle-embedding rows (docs/model.md: TRM-ACT): the batch's row gradients are
/// summed per unique id, and only those rows move: p ← p·(1 − lr·λ) − lr·sign(Σ grad). Untouched rows are
/// neither updated nor decayed.
package final class SparseSignSGD {
    package var weightDecay: Float
    private let width: Int
    private let arena = Arena()
    private let summed: UnsafeMutablePointer<Float>
    private let order: UnsafeMutablePointer<Int32>
    private let capacity: Int

    /// `width`: floats per row; `maxRows`: the most rows one update can see (the batch size).
    package init(width: Int, maxRows: Int, weightDecay: Float = 0.1) throws(TRMError) {
        self.width = width
        self.weightDecay = weightDecay
        capacity = maxRows
        summed = try arena.floats(maxRows * width)
        order = try arena.int32s(maxRows)
    }

    /// Updates `table` rows named by `ids` ([count]) from per-example gradients `grads` ([count, width]).
    package func update(table: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, grads: UnsafePointer<Float>,
                       count: Int, lr: Float) {
        precondition(count <= capacity, "SparseSignSGD: more rows than the capacity given at init")
        if width == 0 { return }
        // Unique ids in first-seen order, with their summed gradients (a fixed order: reproducible).
        var unique = 0
        for b in 0..<count {
            let id = ids[b]
            var slot = 0
            while slot < unique && order[slot] != id { slot += 1 }
            let dst = summed + slot * width, src = grads + b * width
            if slot == unique {
                order[unique] = id
                unique += 1
                dst.update(from: src, count: width)
            } else {
                for i in 0..<width { dst[i] += src[i] }
            }
        }
        let decay = 1 - lr * weightDecay
        for slot in 0..<unique {
            let row = table + Int(order[slot]) * width, g = summed + slot * width
            for i in 0..<width {
                let s: Float = g[i] > 0 ? 1 : (g[i] < 0 ? -1 : 0)
                row[i] = row[i] * decay - lr * s
            }
        }
    }
}

/// The learning-rate schedule of the reference (docs/model.md: TRM-ACT): the step counter is 1-based, linear warm-up
/// lr·step/warmup for step < warmup, then cosine from lr down to lr·minRatio over the remaining steps
/// (minRatio = 1, the reference's setting, makes it constant).
package struct LearningRateSchedule: Codable, Sendable, Equatable {
    package var base: Float
    package var warmupSteps: Int
    package var totalSteps: Int
    package var minRatio: Float

    package init(base: Float, warmupSteps: Int = 2000, totalSteps: Int = 1, minRatio: Float = 1) {
        self.base = base
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    package func rate(at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step) / Float(max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        let cosine = 0.5 * (1 + cos(Double.pi * min(1, progress)))
        return base * Float(Double(minRatio) + (1 - Double(minRatio)) * cosine)
    }
}

/// An exponential moving average of the weights (docs/model.md: TRM-ACT): shadow ← (1−μ)·param + μ·shadow after
/// every update, initialised to the weights, no bias correction.
package final class EMA {
    package let rate: Float
    package let count: Int
    private let arena = Arena()
    package let shadow: UnsafeMutablePointer<Float>

    package init(weights: UnsafePointer<Float>, count: Int, rate: Float = 0.999) throws(TRMError) {
        self.rate = rate
        self.count = count
        shadow = try arena.floats(count)
        shadow.update(from: weights, count: count)
    }

    package func update(_ weights: UnsafePointer<Float>) {
        let mu = rate, shadow = self.shadow
        Threads.pool.parallelFor(count, minimumPerThread: 16_384, (shadow, weights, mu)) { args, range in
            let (shadow, weights, mu) = args
            for i in range { shadow[i] = (1 - mu) * weights[i] + mu * shadow[i] }
        }
    }
}

/// Scales `grads` so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
package func clipGradientNorm(_ grads: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> Float {
    var sum = 0.0
    var i = 0
    while i < count {
        let n = min(4096, count - i)
        sum += Double(Kernels.sumOfSquares(grads + i, n))
        i += n
    }
    let norm = Float(sum.squareRoot())
    if norm > maxNorm && norm > 0 {
        let scale = maxNorm / norm
        for j in 0..<count { grads[j] *= scale }
    }
    return norm
}
