#if canImport(Glibc)
import Glibc
#endif

/// State shared by the Adam-family optimisers: the hyper-parameters, the step count and the first and
/// second moments (`count` floats each, laid out like the weights).
package class AdamOptimizer {
    package let count: Int
    package var beta1: Float
    package var beta2: Float
    package var weightDecay: Float
    /// Updates taken so far (t of the last update).
    package private(set) var step = 0
    private let arena = Arena()
    package let m: UnsafeMutablePointer<Float>
    package let v: UnsafeMutablePointer<Float>
    /// Parameters the loss never reaches (DIS's q_head): skipped entirely, no step and no decay, as
    /// PyTorch optimisers skip a parameter whose gradient is None.
    package var frozen: Range<Int>? = nil

    init(count: Int, beta1: Float, beta2: Float, weightDecay: Float) throws(TRMError) {
        self.count = count
        self.beta1 = beta1
        self.beta2 = beta2
        self.weightDecay = weightDecay
        m = try arena.floats(count)
        v = try arena.floats(count)
    }

    /// Restores the step counter (the moments are restored through `m` and `v`).
    package func restore(step: Int) { self.step = step }

    /// One update of `params` from `grads` at learning rate `lr`, outside the frozen range.
    package func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Float) {
        step += 1
        // The parameters around the frozen range, in two segments.
        let cut = frozen ?? count..<count
        update(params, grads, lr, segment: 0..<cut.lowerBound)
        update(params, grads, lr, segment: cut.upperBound..<count)
    }

    private func update(_ params: UnsafeMutablePointer<Float>, _ grads: UnsafePointer<Float>, _ lr: Float, segment: Range<Int>) {
        guard !segment.isEmpty else { return }
        Threads.pool.parallelFor(segment.count, minimumPerThread: 16_384, (self, params, grads, lr, segment.lowerBound)) {
            args, r in
            let (optimizer, params, grads, lr, base) = args
            optimizer.apply(params, grads, lr, (base + r.lowerBound)..<(base + r.upperBound))
        }
    }

    /// The rule for elements `range` at the current step.
    func apply(_ params: UnsafeMutablePointer<Float>, _ grads: UnsafePointer<Float>, _ lr: Float, _ range: Range<Int>) {
        fatalError("implemented by AdamATan2 and AdamW")
    }
}

/// AdamATan2 exactly as the reference's `adam-atan2` package (docs/model.md: TRM-ACT): decoupled weight decay first,
/// no epsilon, the first-moment bias correction scaling the step and the second-moment one inside atan2:
///   p ← p·(1 − lr·λ);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
///   p ← p − lr/(1−β₁ᵗ) · atan2(m, √v / √(1−β₂ᵗ))
package final class AdamATan2: AdamOptimizer {
    package override init(count: Int, beta1: Float = 0.9, beta2: Float = 0.95, weightDecay: Float = 0.1) throws(TRMError) {
        try super.init(count: count, beta1: beta1, beta2: beta2, weightDecay: weightDecay)
    }

    override func apply(_ params: UnsafeMutablePointer<Float>, _ grads: UnsafePointer<Float>, _ lr: Float, _ range: Range<Int>) {
        let b1 = beta1, b2 = beta2, m = self.m, v = self.v
        let decay = 1 - lr * weightDecay
        let stepSize = lr / (1 - powf(b1, Float(step)))
        let vScale = 1 / (1 - powf(b2, Float(step))).squareRoot()
        // Eight at a time with the vectorised atan2 (libm's scalar atan2f was 2.5% of a dis-medium training
        // profile); the tail runs the same formula in lane 0, so an element's result does not depend on its index.
        typealias V = VectorMath.V
        func update(_ p: V, _ g: V, _ mi: V, _ vi: V) -> (p: V, m: V, v: V) {
            let m = b1 * mi + (1 - b1) * g, v = b2 * vi + (1 - b2) * g * g
            return (p * decay - stepSize * VectorMath.atan2(m, nonNegative: v.squareRoot() * vScale), m, v)
        }
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let r = update(VectorMath.load(params + i), VectorMath.load(grads + i), VectorMath.load(m + i),
                           VectorMath.load(v + i))
            VectorMath.store(r.p, params + i)
            VectorMath.store(r.m, m + i)
            VectorMath.store(r.v, v + i)
            i += 8
        }
        while i < range.upperBound {
            let r = update(V(repeating: params[i]), V(repeating: grads[i]), V(repeating: m[i]), V(repeating: v[i]))
            params[i] = r.p[0]
            m[i] = r.m[0]
            v[i] = r.v[0]
            i += 1
        }
    }
}

/// AdamW (decoupled weight decay, bias-corrected moments, epsilon outside the square root), as
/// torch.optim.AdamW: p ← p·(1 − lr·λ); m, v updated; p ← p − lr·m̂/(√v̂ + ε).
package final class AdamW: AdamOptimizer {
    package var eps: Float

    package init(count: Int, beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1) throws(TRMError) {
        self.eps = eps
        try super.init(count: count, beta1: beta1, beta2: beta2, weightDecay: weightDecay)
    }

    override func apply(_ params: UnsafeMutablePointer<Float>, _ grads: UnsafePointer<Float>, _ lr: Float, _ range: Range<Int>) {
        let b1 = beta1, b2 = beta2, eps = self.eps, m = self.m, v = self.v
        let decay = 1 - lr * weightDecay
        let stepSize = lr / (1 - powf(b1, Float(step)))
        let c2Root = (1 - powf(b2, Float(step))).squareRoot()
        for i in range {
            let g = grads[i]
            params[i] *= decay
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            params[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
        }
    }
}
