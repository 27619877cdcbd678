#if canImport(Glibc)
import Glibc
#endif

/// Weightless RMSNorm over the last axis: y = x / sqrt(mean(x²) + eps) (docs/model.md: The network).
enum RMSNorm {
    /// Per row of `width`: y = x·r with r = 1/sqrt(mean(x²) + eps); r is saved for backward.
    /// `x` and `y` may be the same buffer.
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                        rows: Int, width: Int, eps: Float) {
        GEMMProfile.section("RMSNorm forward") {
            Threads.pool.parallelFor(rows, minimumPerThread: max(1, 4096 / width), (x, y, rstd, width, eps)) { args, range in
                let (x, y, rstd, width, eps) = args
                for r in range {
                    let xr = x + r * width, yr = y + r * width
                    let inv = 1 / (Kernels.sumOfSquares(xr, width) / Float(width) + eps).squareRoot()
                    rstd[r] = inv
                    for i in 0..<width { yr[i] = xr[i] * inv }
                }
            }
        }
    }

    /// The residual and the norm in one pass per row: y = RMSNorm(a + b). The sum is formed in `y` and
    /// normalised while the row is still in cache; the values are those of an add followed by `forward`.
    /// `y` may be `a` or `b`.
    static func forward(adding a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        rstd: UnsafeMutablePointer<Float>, rows: Int, width: Int, eps: Float) {
        GEMMProfile.section("RMSNorm forward (residual)") {
            Threads.pool.parallelFor(rows, minimumPerThread: max(1, 4096 / width), (a, b, y, rstd, width, eps)) { args, range in
                let (a, b, y, rstd, width, eps) = args
                for r in range {
                    let ar = a + r * width, br = b + r * width, yr = y + r * width
                    for i in 0..<width { yr[i] = ar[i] + br[i] }
                    let inv = 1 / (Kernels.sumOfSquares(yr, width) / Float(width) + eps).squareRoot()
                    rstd[r] = inv
                    for i in 0..<width { yr[i] = yr[i] * inv }
                }
            }
        }
    }

    /// dx = r·(dy − y·mean(dy·y)), from the saved output y and r. `dy` and `dx` may be the same buffer.
    static func backward(_ dy: UnsafePointer<Float>, y: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        GEMMProfile.section("RMSNorm backward") {
            Threads.pool.parallelFor(rows, minimumPerThread: max(1, 4096 / width), (dy, y, rstd, dx, width)) { args, range in
                let (dy, y, rstd, dx, width) = args
                for r in range {
                    let dyr = dy + r * width, yr = y + r * width, dxr = dx + r * width
                    let mean = Kernels.dot(dyr, yr, width) / Float(width)
                    let inv = rstd[r]
                    for i in 0..<width { dxr[i] = inv * (dyr[i] - yr[i] * mean) }
                }
            }
        }
    }
}
