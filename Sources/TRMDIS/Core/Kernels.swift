#if canImport(Glibc)
import Glibc
#endif
import TRMDISKernelsC

/// Elementwise kernels over raw buffers, spread over the thread pool in contiguous chunks.
package enum Kernels {
    static let grain = 16_384

    /// out = a + b
    package static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        GEMMProfile.section("add") {
            Threads.pool.parallelFor(n, minimumPerThread: grain, (a, b, out)) { args, r in
                let (a, b, out) = args
                for i in r { out[i] = a[i] + b[i] }
            }
        }
    }

    /// out = a + b + c
    package static func add3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                            _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        GEMMProfile.section("add3") {
            Threads.pool.parallelFor(n, minimumPerThread: grain, (a, b, c, out)) { args, r in
                let (a, b, c, out) = args
                for i in r { out[i] = a[i] + b[i] + c[i] }
            }
        }
    }

    /// a += b
    package static func accumulate(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        GEMMProfile.section("accumulate") {
            Threads.pool.parallelFor(n, minimumPerThread: grain, (a, b)) { args, r in
                let (a, b) = args
                for i in r { a[i] += b[i] }
            }
        }
    }

    package static func copy(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        dst.update(from: src, count: n)
    }

    package static func zero(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        memset(p, 0, n * MemoryLayout<Float>.stride)
    }

    /// dst[c][r] += src[r][c] for src [rows, cols] (a small matrix: one thread).
    package static func addTransposed(_ src: UnsafePointer<Float>, rows: Int, cols: Int,
                                      into dst: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let s = src + r * cols
            for c in 0..<cols { dst[c * rows + r] += s[c] }
        }
    }

    /// Batched transpose: for each of `batch` matrices, dst[b][c][r] = src[b][r][c] (src rows × cols).
    /// One job per 32 source rows of one matrix; on an AVX2 CPU the rows go through 8×8 register
    /// transposes (Sources/TRMDISKernelsC, about three times the scalar tiles' speed on the `mlp_t` mixer's
    /// [B, L, D] activations), otherwise through 32×32 scalar tiles (`transposeRowsScalar`). A copy: the
    /// same bits either way.
    package static func transpose(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                                 batch: Int, rows: Int, cols: Int) {
        let block = 32
        GEMMProfile.section("transpose") {
            Threads.pool.parallelFor(batch * ((rows + block - 1) / block), (src, dst, rows, cols, block)) { args, range in
                let (src, dst, rows, cols, block) = args
                let tiles = (rows + block - 1) / block
                for job in range {
                    let b = job / tiles, r0 = (job % tiles) * block
                    let s = src + b * rows * cols, d = dst + b * rows * cols
                    let r1 = min(rows, r0 + block)
                    if Elementwise.usesAVX2 { trmdis_transpose_rows_avx2(s, d, rows, cols, r0, r1) }
                    else { transposeRowsScalar(s, d, rows: rows, cols: cols, r0..<r1) }
                }
            }
        }
    }

    /// dst[c][r] = src[r][c] for the source rows `range` of one src [rows, cols], in 32-column tiles.
    package static func transposeRowsScalar(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>,
                                           rows: Int, cols: Int, _ range: Range<Int>) {
        var c0 = 0
        while c0 < cols {
            let c1 = min(cols, c0 + 32)
            for r in range { for c in c0..<c1 { d[c * rows + r] = s[r * cols + c] } }
            c0 += 32
        }
    }

    /// Sum of squares with eight independent accumulators so the loop vectorises.
    @inline(__always)
    package static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            acc += v * v
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i] * x[i]; i += 1 }
        return s
    }

    @inline(__always)
    package static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            acc += a * b
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i] * y[i]; i += 1 }
        return s
    }
}
