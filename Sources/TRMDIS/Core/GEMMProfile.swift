import Synchronization

/// Wall time in the matrix products, by shape: where a step's time goes and how close each product runs to
/// the sgemm peak (`trmdis bench --config X --gemm-profile`; docs/performance.md). Off by default: then
/// each product pays one relaxed atomic load and nothing else (no allocation per step). On, a product adds
/// to its shape's totals under a lock, keyed by the numbers (its name is formatted once, when first seen).
package enum GEMMProfile {
    package struct Entry: Sendable {
        /// "NT m3104 n3072 k512 beta0": op(A), op(B) (N or T), the row-major shape, and C's beta; or a
        /// section's name.
        package let shape: String
        package var calls = 0
        package var seconds = 0.0
        package var flops = 0.0
    }

    /// A product's shape, the key its totals are kept under while recording.
    struct Shape: Hashable {
        let transA, transB: Bool
        let m, n, k: Int
        let beta: Float

        var name: String {
            let betaName = beta == 0 ? "0" : beta == 1 ? "1" : "\(beta)"
            return "\(transA ? "T" : "N")\(transB ? "T" : "N") m\(m) n\(n) k\(k) beta\(betaName)"
        }
    }

    private static let enabled = Atomic<Bool>(false)
    private static let entries = Mutex<[Shape: Entry]>([:])
    private static let sectionEntries = Mutex<[String: Entry]>([:])

    @inline(__always) static var isRecording: Bool { enabled.load(ordering: .relaxed) }

    /// Starts recording from nothing.
    package static func start() {
        entries.withLock { $0 = [:] }
        sectionEntries.withLock { $0 = [:] }
        enabled.store(true, ordering: .relaxed)
    }

    /// Stops recording; the shapes by time spent, most first.
    package static func stop() -> (products: [Entry], sections: [Entry]) {
        enabled.store(false, ordering: .relaxed)
        return (entries.withLock { Array($0.values) }.sorted { $0.seconds > $1.seconds },
                sectionEntries.withLock { Array($0.values) }.sorted { $0.seconds > $1.seconds })
    }

    /// Runs `body` unrecorded: work a benchmark does between timed repetitions (its own sgemm samples).
    package static func paused<R>(_ body: () throws -> R) rethrows -> R {
        let was = enabled.exchange(false, ordering: .relaxed)
        defer { enabled.store(was, ordering: .relaxed) }
        return try body()
    }

    /// Runs `body`, adding its wall time to the named section while recording: the work between the products
    /// (activations, norms, transposes), timed on the calling thread around its whole parallel loop. A section
    /// holds no product that `sgemm` records, so products and sections add up to the part of a step that is
    /// accounted for.
    /// `flops`: the products a section computes inside itself on single threads, for its GFLOP/s.
    @inline(__always)
    package static func section<R>(_ name: StaticString, flops: Double = 0, _ body: () throws -> R) rethrows -> R {
        guard isRecording else { return try body() }
        let start = monotonicSeconds()
        let result = try body()
        let seconds = monotonicSeconds() - start
        let key = name.description
        sectionEntries.withLock { all in
            var e = all[key] ?? Entry(shape: key)
            e.calls += 1
            e.seconds += seconds
            e.flops += flops
            all[key] = e
        }
        return result
    }

    static func record(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, beta: Float, seconds: Double) {
        let shape = Shape(transA: transA, transB: transB, m: m, n: n, k: k, beta: beta)
        entries.withLock { all in
            var e = all[shape] ?? Entry(shape: shape.name)
            e.calls += 1
            e.seconds += seconds
            e.flops += 2 * Double(m) * Double(n) * Double(k)
            all[shape] = e
        }
    }
}
