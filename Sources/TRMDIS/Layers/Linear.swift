/// A bias-free linear layer y = x·Wᵀ with W stored [out, in] as in PyTorch.
enum Linear {
    /// y[rows, out] = x[rows, in] · Wᵀ (beta = 1 accumulates into y). `panels`: W already in the engine's
    /// panels (`SmallGEMM.packNT`), for the few rows of inference on packed weights (`Runner.withPackedWeights`).
    @inline(__always)
    static func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        rows: Int, inFeatures: Int, outFeatures: Int, beta: Float = 0,
                        panels: UnsafePointer<Float>? = nil) {
        if let panels {
            precondition(beta == 0 || beta == 1, "the packed product adds into y or overwrites it")
            SmallGEMM.productPanelsSplit(m: rows, n: outFeatures, k: inFeatures, x, lda: inFeatures, packed: panels,
                                         y, ldc: outFeatures, accumulate: beta == 1)
            return
        }
        sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
              x, lda: inFeatures, w, ldb: inFeatures, beta: beta, y, ldc: outFeatures)
    }

    /// dW[out, in] += dyᵀ·x, then dx[rows, in] (=, or += when accumulate) dy·W.
    /// `dx` may be nil when the input needs no gradient. `panels`: W itself [out, in] as B in the engine's panels
    /// (`SmallGEMM.packNN`), for a training step on packed weights (`Runner.forward`).
    @inline(__always)
    static func backward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dW: UnsafeMutablePointer<Float>,
                         rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool,
                         panels: UnsafePointer<Float>? = nil) {
        sgemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows,
              dy, lda: outFeatures, x, ldb: inFeatures, beta: 1, dW, ldc: inFeatures)
        guard let dx else { return }
        if let panels {
            SmallGEMM.productPanelsSplit(m: rows, n: inFeatures, k: outFeatures, dy, lda: outFeatures, packed: panels,
                                         dx, ldc: inFeatures, accumulate: accumulate)
        } else {
            sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures,
                  dy, lda: outFeatures, w, ldb: inFeatures, beta: accumulate ? 1 : 0, dx, ldc: inFeatures)
        }
    }
}
