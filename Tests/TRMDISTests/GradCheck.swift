@testable import TRMDIS
@testable import TRMDISTasks

/// Finite-difference gradient checking for fp32 code.
///
/// Tolerance, stated once for every check: over a sample of coordinates of one tensor, the relative error
/// ‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖) must be below `tolerance` (default 1e-2), using
/// central differences with step `eps` (default 1e-2 relative to the scale of the inputs). fp32 rounding
/// in the loss (~1e-7 relative) divided by the step gives ~1e-5 absolute noise, far below the bar.
struct GradCheck {
    var rng = RNG(seed: 1234)

    /// Fills a buffer with uniform values in [-scale, scale].
    mutating func fill(_ p: UnsafeMutablePointer<Float>, _ n: Int, scale: Float = 1) {
        for i in 0..<n { p[i] = Float(rng.uniform() * 2 - 1) * scale }
    }

    /// Compares `analytic` with central differences of `loss` at `samples` coordinates of `param`.
    /// Returns the relative error.
    mutating func relativeError(param: UnsafeMutablePointer<Float>, count: Int, analytic: UnsafePointer<Float>,
                                samples: Int = 24, eps: Float = 1e-2, loss: () -> Double) -> Double {
        var indices: [Int] = count <= samples ? Array(0..<count) : (0..<samples).map { _ in rng.below(count) }
        // Always include the coordinate with the largest analytic gradient so a check cannot pass on zeros.
        var best = 0
        for i in 0..<count where abs(analytic[i]) > abs(analytic[best]) { best = i }
        indices.append(best)
        var diff = 0.0, normA = 0.0, normN = 0.0
        for i in indices {
            let saved = param[i]
            param[i] = saved + eps
            let plus = loss()
            param[i] = saved - eps
            let minus = loss()
            param[i] = saved
            let numeric = (plus - minus) / (2 * Double(eps))
            let a = Double(analytic[i])
            diff += (a - numeric) * (a - numeric)
            normA += a * a
            normN += numeric * numeric
        }
        let denominator = max(normA.squareRoot(), normN.squareRoot())
        precondition(denominator > 1e-6, "gradient is zero at every sampled coordinate: the check would be vacuous")
        return diff.squareRoot() / denominator
    }
}

/// A scratch buffer that frees itself.
final class Buffer {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int) {
        self.count = count
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { p.deallocate() }
    subscript(i: Int) -> Float { get { p[i] } set { p[i] = newValue } }
    func dot(_ other: Buffer) -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(p[i]) * Double(other.p[i]) }
        return s
    }
    func copy(from other: Buffer) { p.update(from: other.p, count: count) }
}
