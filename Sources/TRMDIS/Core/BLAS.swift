import CBLAS

/// Row-major single-precision GEMM: C = alpha·op(A)·op(B) + beta·C with op(A) m×k and op(B) k×n.
///
/// OpenBLAS itself runs single-threaded (see `Threads`): large products are split here into one block
/// of C's rows (or columns, when C is wide) per pool thread. No thread is left spinning between calls,
/// each element of C is computed by one thread in a fixed order, and the split depends only on the
/// thread count, so results are reproducible.
package func sgemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    let start = GEMMProfile.isRecording ? monotonicSeconds() : nil
    sgemmSplit(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
               beta: beta, c, ldc: ldc)
    if let start {
        GEMMProfile.record(transA: transA, transB: transB, m: m, n: n, k: k, beta: beta,
                           seconds: monotonicSeconds() - start)
    }
}

/// `sgemm` without the profile: serial below the split threshold, else one block of C per pool thread.
private func sgemmSplit(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let threads = Threads.count
    // Below ~1 MFLOP a split costs more than it saves.
    if threads == 1 || m * n * k < 1 << 19 {
        sgemmSerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
                    beta: beta, c, ldc: ldc)
        return
    }
    let product = GEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    if m >= n {
        Threads.pool.parallelFor(m, minimumPerThread: 16, product) { g, rows in g.rowBlock(rows) }
    } else {
        Threads.pool.parallelFor(n, minimumPerThread: 16, product) { g, cols in g.columnBlock(cols) }
    }
}

/// One product, handed to the pool's workers (ThreadPool.parallelFor), each computing a block of C.
private struct GEMM {
    let transA, transB: Bool
    let m, n, k: Int
    let alpha: Float
    let a: UnsafePointer<Float>
    let lda: Int
    let b: UnsafePointer<Float>
    let ldb: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>
    let ldc: Int

    /// C[rows, :] from op(A)[rows, :].
    func rowBlock(_ rows: Range<Int>) {
        let aBlock = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
        sgemmSerial(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha, aBlock, lda: lda,
                    b, ldb: ldb, beta: beta, c + rows.lowerBound * ldc, ldc: ldc)
    }

    /// C[:, cols] from op(B)[:, cols].
    func columnBlock(_ cols: Range<Int>) {
        let bBlock = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
        sgemmSerial(transA: transA, transB: transB, m: m, n: cols.count, k: k, alpha: alpha, a, lda: lda,
                    bBlock, ldb: ldb, beta: beta, c + cols.lowerBound, ldc: ldc)
    }
}

/// One OpenBLAS call on the calling thread.
@inline(__always)
func sgemmSerial(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    BLASRuntime.shared.sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}
