#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TRMDIS
@testable import TRMDISTasks

@Suite struct KernelTests {
    /// The vectorised exp stays within 4 ulp-ish (2e-7 relative) of libm over the range softmax and SiLU use.
    @Test func vectorExpMatchesLibm() throws {
        var worst: Float = 0
        var x: Float = -80
        while x < 80 {
            let v = VectorMath.exp(VectorMath.V(repeating: x))[0]
            worst = max(worst, abs(v - expf(x)) / expf(x))
            x += 0.0137
        }
        #expect(worst < 4e-7)
        #expect(VectorMath.exp(.init(repeating: -1000))[0] < 1e-37)
        #expect(VectorMath.sigmoid(.init(repeating: 0))[0] == 0.5)
    }

    /// The split GEMM equals the single-call result for every transpose combination and both split axes.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func splitGemmMatchesSerial(transposes: (Bool, Bool)) {
        var g = GradCheck()
        for (m, n, k) in [(300, 40, 64), (40, 300, 64)] {
            let a = Buffer(m * k), b = Buffer(k * n), c1 = Buffer(m * n), c2 = Buffer(m * n)
            g.fill(a.p, a.count); g.fill(b.p, b.count); g.fill(c1.p, c1.count); c2.copy(from: c1)
            let (ta, tb) = transposes
            let lda = ta ? m : k, ldb = tb ? k : n
            sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a.p, lda: lda, b.p, ldb: ldb, beta: 1, c1.p, ldc: n)
            sgemmSerial(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a.p, lda: lda, b.p, ldb: ldb, beta: 1, c2.p, ldc: n)
            #expect((0..<m * n).allSatisfy { abs(c1[$0] - c2[$0]) <= 1e-5 * max(1, abs(c2[$0])) })
        }
    }
}
