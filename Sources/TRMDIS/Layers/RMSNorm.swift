#if canImport(Glibc)
import Glibc
#endif

/// Weightless RMSNorm over the last axis: y = x / sqrt(mean(x²) + eps) (trm.md §1.4).
enum RMSNorm {
    /// Per row of `width`: y = x·r with r = 1/sqrt(mean(x²) + eps); r is saved for backward.
    /// `x` and `y` may be the same buffer.
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                        rows: Int, width: Int, eps: Float) {
        Threads.pool.parallelFor(rows, minimumPerThread: max(1, 4096 / width)) { range in
            for r in range {
                let xr = x + r * width, yr = y + r * width
                let inv = 1 / (Kernels.sumOfSquares(xr, width) / Float(width) + eps).squareRoot()
                rstd[r] = inv
                for i in 0..<width { yr[i] = xr[i] * inv }
            }
        }
    }

    /// dx = r·(dy − y·mean(dy·y)), from the saved output y and r. `dy` and `dx` may be the same buffer.
    static func backward(_ dy: UnsafePointer<Float>, y: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        Threads.pool.parallelFor(rows, minimumPerThread: max(1, 4096 / width)) { range in
            for r in range {
                let dyr = dy + r * width, yr = y + r * width, dxr = dx + r * width
                let mean = Kernels.dot(dyr, yr, width) / Float(width)
                let inv = rstd[r]
                for i in 0..<width { dxr[i] = inv * (dyr[i] - yr[i] * mean) }
            }
        }
    }
}
