#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TRMDIS
@testable import TRMDISTasks
import TRMDISKernelsC

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

    /// The vectorised atan2 of the AdamATan2 update against libm over its half-plane x ≥ 0: ratios from 1e-6
    /// to 1e6 and both signs of y, and the edges (zeros, infinities, NaN) as atan2f gives them.
    @Test func vectorATan2MatchesLibm() {
        var worst: Float = 0
        var pairs: [(Float, Float)] = []
        for i in 0..<4000 {
            let ratio = powf(10, -6 + 12 * Float(i) / 4000), x = 1 + Float(i % 13) * 0.37
            pairs.append((ratio * x, x))
            pairs.append((-ratio * x, x))
        }
        for (y, x) in pairs {
            let v = VectorMath.atan2(.init(repeating: y), nonNegative: .init(repeating: x))[0]
            worst = max(worst, abs(v - atan2f(y, x)) / abs(atan2f(y, x)))
        }
        #expect(worst < 3e-7)
        let inf = Float.infinity
        for (y, x) in [(0, 0), (-0.0, 0), (1, 0), (-1, 0), (0, 1), (-0.0, 1), (inf, 1), (-inf, 1), (1, inf), (inf, inf),
                       (-inf, inf), (3e-38, 1e30), (1e30, 3e-38)] as [(Float, Float)] {
            let v = VectorMath.atan2(.init(repeating: y), nonNegative: .init(repeating: x))[0]
            #expect(v.bitPattern == atan2f(y, x).bitPattern || abs(v - atan2f(y, x)) <= 2e-7 * abs(atan2f(y, x)),
                    "atan2(\(y), \(x)) = \(v), libm \(atan2f(y, x))")
        }
        for (y, x) in [(Float.nan, 1), (1, .nan), (.nan, .nan), (.nan, 0)] as [(Float, Float)] {
            #expect(VectorMath.atan2(.init(repeating: y), nonNegative: .init(repeating: x))[0].isNaN)
        }
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

    /// `trmdis bench --gemm-profile`: while recording, each product is counted under its shape with its FLOPs
    /// and the same result, and each named section of the work between products by its calls; after `stop`
    /// nothing more is recorded. (Other tests' products may land in the
    /// window too, under their own shapes, so only this test's unusual ones are checked.)
    @Test func gemmProfileCountsProductsByShape() {
        var g = GradCheck()
        let (m, n, k) = (37, 23, 19)
        let a = Buffer(m * k), b = Buffer(n * k), c1 = Buffer(m * n), c2 = Buffer(m * n)
        g.fill(a.p, a.count); g.fill(b.p, b.count)
        GEMMProfile.start()
        for _ in 0..<3 { sgemm(transA: false, transB: true, m: m, n: n, k: k, a.p, lda: k, b.p, ldb: k, c1.p, ldc: n) }
        sgemm(transA: true, transB: false, m: k, n: n, k: m, alpha: 1, a.p, lda: k, c1.p, ldb: n, beta: 1, c2.p, ldc: n)
        let rows = 3
        GEMMProfile.section("test section") { RMSNorm.forward(a.p, c1.p, rstd: b.p, rows: rows, width: k, eps: 1e-5) }
        let (entries, sections) = GEMMProfile.stop()
        sgemm(transA: false, transB: true, m: m, n: n, k: k, a.p, lda: k, b.p, ldb: k, c2.p, ldc: n)
        GEMMProfile.section("test section") {}
        #expect(!GEMMProfile.isRecording)
        let section = sections.first { $0.shape == "test section" }
        #expect(section?.calls == 1)  // once while recording, not after
        #expect((section?.seconds ?? -1) >= 0)
        #expect(section?.flops == 0)
        #expect(sections.contains { $0.shape == "RMSNorm forward" })  // the engine's own sections, inside it
        let forward = entries.first { $0.shape == "NT m37 n23 k19 beta0" }
        #expect(forward?.calls == 3)
        #expect(forward?.flops == Double(3 * 2 * 37 * 23 * 19))
        #expect((forward?.seconds ?? -1) >= 0)
        #expect(entries.first { $0.shape == "TN m19 n23 k37 beta1" }?.calls == 1)
        sgemm(transA: false, transB: true, m: m, n: n, k: k, a.p, lda: k, b.p, ldb: k, c1.p, ldc: n)
        #expect((0..<m * n).allSatisfy { c1[$0] == c2[$0] })  // the product recorded computes what one unrecorded does
    }

    /// The batched transpose, and each row kernel alone (scalar tiles, AVX2 blocks) over a sub-range, put every
    /// element where the definition says, for shapes with and without 8-row and 8-column remainders (the
    /// mixer's 97 x 512 too).
    @Test func transposeMovesEveryElement() {
        for (batch, rows, cols) in [(1, 1, 5), (2, 8, 8), (3, 13, 9), (2, 97, 512), (2, 512, 97), (1, 40, 33)] {
            let n = batch * rows * cols
            let src = (0..<n).map { Float($0) + 0.25 }
            var dst = [Float](repeating: -1, count: n)
            dst.withUnsafeMutableBufferPointer { Kernels.transpose(src, $0.baseAddress!, batch: batch, rows: rows, cols: cols) }
            let expected = (0..<n).map { i -> Float in
                let b = i / (rows * cols), c = i % (rows * cols) / rows, r = i % rows
                return src[b * rows * cols + r * cols + c]
            }
            #expect(dst == expected, "\(batch) x \(rows) x \(cols)")
            let first = rows / 3, last = rows - rows / 4
            var kernels: [(String, (UnsafeMutablePointer<Float>) -> Void)] = [
                ("scalar", { Kernels.transposeRowsScalar(src, $0, rows: rows, cols: cols, first..<last) })]
            if trmdis_kernels_avx2_built() == 1, BLASRuntime.instructionSet() != "sse" {
                kernels.append(("AVX2", { trmdis_transpose_rows_avx2(src, $0, rows, cols, first, last) }))
            }
            for (name, kernel) in kernels {
                var part = [Float](repeating: -1, count: rows * cols)
                part.withUnsafeMutableBufferPointer { kernel($0.baseAddress!) }
                let wrong = (0..<rows * cols).first { i in
                    let c = i / rows, r = i % rows
                    return part[i] != ((first..<last).contains(r) ? src[r * cols + c] : -1)
                }
                #expect(wrong == nil, "\(name) rows \(first)..<\(last) of \(rows) x \(cols): wrong at \(wrong ?? -1)")
            }
        }
    }

    /// The AVX2 twins (Sources/TRMDISKernelsC) give the Swift kernels' bits, on values spanning exp's clamps,
    /// lengths with and without a scalar tail, and in place (dGateUp over gateUp). On a CPU without AVX2 the
    /// twins cannot run: the test says so and checks that the engine uses the Swift versions.
    @Test func avx2KernelsGiveTheSwiftBits() throws {
        guard trmdis_kernels_avx2_built() == 1, BLASRuntime.instructionSet() != "sse" else {
            #expect(!Elementwise.usesAVX2)
            print("KernelTests: no AVX2 on this CPU; the Swift kernels run (nothing to compare)")
            return
        }
        var rng = RNG(seed: 7)
        func values(_ n: Int, scale: Float) -> [Float] {
            (0..<n).map { i in i % 97 == 0 ? [-200, 200, 0, -0.0][i / 97 % 4] : (Float(rng.uniform()) * 2 - 1) * scale }
        }
        func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }
        for n in [1, 7, 8, 9, 64, 81, 916, 1000] {
            var a = values(n, scale: 30), b = a
            a.withUnsafeMutableBufferPointer { Elementwise.softmaxRowSwift($0.baseAddress!, n) }
            b.withUnsafeMutableBufferPointer { trmdis_softmax_row_avx2($0.baseAddress!, n) }
            #expect(bits(a) == bits(b), "softmax, n = \(n)")
        }
        for inner in [3, 8, 13, 64, 768] {
            let rows = 5
            let gateUp = values(rows * 2 * inner, scale: 12), dAct = values(rows * inner, scale: 2)
            var act1 = [Float](repeating: 0, count: rows * inner), act2 = act1
            act1.withUnsafeMutableBufferPointer { Elementwise.swiGLUSwift(gateUp, $0.baseAddress!, inner: inner, rows: 1..<rows) }
            act2.withUnsafeMutableBufferPointer { trmdis_swiglu_avx2(gateUp, $0.baseAddress!, inner, 1, rows) }
            #expect(bits(act1) == bits(act2), "SwiGLU, inner = \(inner)")
            var d1 = gateUp, d2 = gateUp  // in place, as the block's backward runs it
            d1.withUnsafeMutableBufferPointer { Elementwise.swiGLUBackwardSwift($0.baseAddress!, dAct: dAct, dGateUp: $0.baseAddress!, inner: inner, rows: 0..<rows) }
            d2.withUnsafeMutableBufferPointer { trmdis_swiglu_backward_avx2($0.baseAddress!, dAct, $0.baseAddress!, inner, 0, rows) }
            #expect(bits(d1) == bits(d2), "SwiGLU backward, inner = \(inner)")
        }
        #expect(Elementwise.usesAVX2 == (getenv("TRMDIS_KERNELS").map { String(cString: $0) } != "baseline"))
    }

    /// The engine's own AVX-512 products (`SmallGEMM`) compute what OpenBLAS does, to rounding: C (+)= A·B with
    /// B packed from Wᵀ or from B itself, and C += Xᵀ·Y over rows, on shapes with every tile-height remainder
    /// (1-14 rows left), row blocks with and without a remainder, 0-4 tail columns and several panels. On a CPU without AVX-512 the engine
    /// must not choose them, which is checked instead.
    @Test func smallGEMMMatchesOpenBLAS() {
        guard SmallGEMM.isAvailable else {
            let off = getenv("TRMDIS_GEMM").map { String(cString: $0) } == "openblas"
            #expect(Elementwise.level < .avx512 || trmdis_gemm_avx512_built() == 0 || off)
            #expect(SmallGEMM.weightsKernel != .avx512)
            print("KernelTests: no AVX-512 here (or TRMDIS_KERNELS, TRMDIS_GEMM turn it off); OpenBLAS computes every product")
            return
        }
        var g = GradCheck()
        func worst(_ a: Buffer, _ b: Buffer) -> Float {
            (0..<a.count).map { abs(a[$0] - b[$0]) / (1 + abs(b[$0])) }.max()!
        }
        // C = A·Wᵀ (W packed from [n, k]) and C += A·B (B packed from [k, n]); n with 0-4 tail columns.
        // (1100, 300, 512) and (40, 260, 1024): blocks of 8 and 4 panels with a remainder block, C's rows split.
        for (m, n, k) in [(1, 32, 1), (13, 64, 7), (14, 33, 97), (57, 97, 97), (200, 1024, 97), (71, 97, 1024),
                          (29, 100, 112), (3, 36, 5), (1100, 300, 512), (40, 260, 1024)] {
            let a = Buffer(m * k), w = Buffer(n * k), packed = Buffer(n * k)
            g.fill(a.p, a.count); g.fill(w.p, w.count)
            for transposed in [true, false] {
                let own = Buffer(m * n), blas = Buffer(m * n)
                g.fill(own.p, own.count)
                blas.copy(from: own)
                if transposed { SmallGEMM.packNT(w.p, n: n, k: k, into: packed.p) }
                else { SmallGEMM.packNN(w.p, n: n, k: k, into: packed.p) }
                let accumulate = !transposed
                let viaPanels = Buffer(m * n)
                viaPanels.copy(from: own)
                SmallGEMM.productSplit(m: m, n: n, k: k, a.p, lda: k, packed: packed.p, own.p, ldc: n,
                                       accumulate: accumulate)
                // Split by panels (inference on packed weights) instead of rows: the same kernel, the same bits.
                SmallGEMM.productPanelsSplit(m: m, n: n, k: k, a.p, lda: k, packed: packed.p, viaPanels.p, ldc: n,
                                             accumulate: accumulate)
                #expect((0..<m * n).allSatisfy { own[$0].bitPattern == viaPanels[$0].bitPattern },
                        "panels m\(m) n\(n) k\(k)")
                sgemmSerial(transA: false, transB: transposed, m: m, n: n, k: k, alpha: 1, a.p, lda: k, w.p,
                            ldb: transposed ? k : n, beta: accumulate ? 1 : 0, blas.p, ldc: n)
                #expect(worst(own, blas) < (k > 128 ? 1e-4 : 1e-5), "\(transposed ? "NT" : "NN") m\(m) n\(n) k\(k)")
            }
        }
        for (m, n, rows) in [(1, 32, 1), (97, 512, 2048), (15, 64, 129), (28, 96, 300), (128, 32, 5)] {
            let x = Buffer(rows * m), y = Buffer(rows * n), own = Buffer(m * n), blas = Buffer(m * n)
            g.fill(x.p, x.count); g.fill(y.p, y.count); g.fill(own.p, own.count)
            blas.copy(from: own)  // both add to the same C
            SmallGEMM.tnRows(m: m, n: n, rows: rows, x.p, ldx: m, y.p, ldy: n, own.p, ldc: n)
            sgemmSerial(transA: true, transB: false, m: m, n: n, k: rows, alpha: 1, x.p, lda: m, y.p, ldb: n, beta: 1,
                        blas.p, ldc: n)
            #expect(worst(own, blas) < 1e-4, "TN m\(m) n\(n) rows \(rows)")  // sums of up to 2,048 products
        }
        #expect(SmallGEMM.takesPacked(n: 97, k: 1024) && SmallGEMM.takesPacked(n: 1024, k: 97))
        #expect(!SmallGEMM.takesPacked(n: 48, k: 97) && !SmallGEMM.takesPacked(n: 1024, k: 128))
        #expect(!SmallGEMM.takesPacked(n: 97, k: 5000) && !SmallGEMM.takesPacked(n: 16, k: 16))
        #expect(SmallGEMM.takesTN(m: 97, n: 1024) && !SmallGEMM.takesTN(m: 512, n: 1536))
        #expect(SmallGEMM.takesPackedWeights(rows: 97) && SmallGEMM.takesPackedWeights(rows: 513))
        #expect(SmallGEMM.trainsOnPackedWeights)
    }

    /// The AVX2 kernel on packed weights (inference on a CPU without AVX-512, `SmallGEMM.weightsKernel`) computes
    /// what OpenBLAS does, to rounding, on every tile height (1-6 rows, and the 7-11 rows it runs as two tiles),
    /// row blocks of equal size with a remainder, 0-4 and 31 tail columns; split by panels across the pool it gives
    /// one call's bits. Run on any CPU with AVX2 and FMA, whichever kernel the engine chose there.
    @Test func avx2PanelKernelMatchesOpenBLAS() {
        guard trmdis_gemm_avx2_built() == 1, ["avx2", "avx512"].contains(BLASRuntime.instructionSet()) else {
            #expect(SmallGEMM.weightsKernel == nil)
            print("KernelTests: no AVX2 and FMA here; OpenBLAS computes inference's products")
            return
        }
        let kernels = getenv("TRMDIS_GEMM").map { String(cString: $0) } == "openblas" ? nil
            : Elementwise.level == .avx512 ? SmallGEMM.PanelKernel.avx512 : Elementwise.level == .avx2 ? .avx2 : nil
        #expect(SmallGEMM.weightsKernel == kernels)
        #expect(SmallGEMM.takesPackedWeights(rows: 97) == (kernels != nil))
        #expect(SmallGEMM.takesPackedWeights(rows: 513) == (kernels == .avx512))
        var g = GradCheck()
        for (m, n, k) in [(1, 32, 1), (2, 33, 7), (3, 64, 16), (4, 36, 9), (5, 96, 33), (6, 34, 8), (7, 64, 64),
                          (8, 32, 3), (9, 63, 17), (10, 128, 128), (11, 35, 5), (13, 64, 31), (64, 384, 128),
                          (97, 100, 256), (97, 128, 768), (200, 256, 40), (1100, 68, 24)] {
            let a = Buffer(m * k), w = Buffer(n * k), packed = Buffer(n * k)
            g.fill(a.p, a.count); g.fill(w.p, w.count)
            SmallGEMM.packNT(w.p, n: n, k: k, into: packed.p)
            for accumulate in [false, true] {
                let whole = Buffer(m * n), split = Buffer(m * n), blas = Buffer(m * n)
                g.fill(whole.p, whole.count)
                split.copy(from: whole); blas.copy(from: whole)
                trmdis_sgemm_packed_avx2(m, n, k, a.p, k, packed.p, whole.p, n, accumulate ? 1 : 0)
                SmallGEMM.productPanelsSplit(m: m, n: n, k: k, a.p, lda: k, packed: packed.p, split.p, ldc: n,
                                             accumulate: accumulate, kernel: .avx2)
                #expect((0..<m * n).allSatisfy { whole[$0].bitPattern == split[$0].bitPattern }, "m\(m) n\(n) k\(k)")
                sgemmSerial(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a.p, lda: k, w.p, ldb: k,
                            beta: accumulate ? 1 : 0, blas.p, ldc: n)
                let worst = (0..<m * n).map { abs(whole[$0] - blas[$0]) / (1 + abs(blas[$0])) }.max()!
                #expect(worst < (k > 128 ? 1e-4 : 1e-5), "m\(m) n\(n) k\(k) accumulate \(accumulate): \(worst)")
            }
        }
    }

    /// The token mixer's MLP in one pass on AVX2 (`SwiGLU.runsOnePass`, mlp_avx2.c) computes what the products and
    /// the activation compute in turn, to rounding, gate_up included: row counts with partial 6-row tiles and
    /// 48-row blocks, widths with a partial 16-column panel (97, 33, 7), inner sizes with a partial group of 8 and
    /// halves that are 16-byte aligned (streamed stores) or not (13). Rows split anywhere, or gate_up not written,
    /// give the same bits. Run on any CPU with AVX2 and FMA.
    @Test func mlpOnePassMatchesProductByProduct() {
        guard trmdis_mlp_avx2_built() == 1, ["avx2", "avx512"].contains(BLASRuntime.instructionSet()) else {
            #expect(!SwiGLU.runsOnePass(width: 97))
            print("KernelTests: no AVX2 and FMA here; the mixer runs product by product")
            return
        }
        #expect(SwiGLU.runsOnePass(width: 97) == (SmallGEMM.weightsKernel == .avx2))
        #expect(!SwiGLU.runsOnePass(width: 128))
        var g = GradCheck()
        for (rows, width, inner) in [(1, 97, 388), (47, 33, 12), (101, 16, 13), (300, 97, 388), (53, 7, 40)] {
            let x = Buffer(rows * width), wgu = Buffer(2 * inner * width), wd = Buffer(width * inner)
            g.fill(x.p, x.count); g.fill(wgu.p, wgu.count); g.fill(wd.p, wd.count)
            let packed = Buffer(trmdis_mlp_packed_count(width, inner))
            let scratch = Buffer(trmdis_mlp_scratch_count(width, inner))
            trmdis_mlp_pack(wgu.p, wd.p, width, inner, packed.p)
            let gateUp = Buffer(rows * 2 * inner), out = Buffer(rows * width)
            trmdis_mlp_swiglu_avx2(rows, width, inner, x.p, packed.p, out.p, gateUp.p, scratch.p)
            let gateUpBLAS = Buffer(rows * 2 * inner), act = Buffer(rows * inner), outBLAS = Buffer(rows * width)
            sgemmSerial(transA: false, transB: true, m: rows, n: 2 * inner, k: width, alpha: 1, x.p, lda: width, wgu.p,
                        ldb: width, beta: 0, gateUpBLAS.p, ldc: 2 * inner)
            Elementwise.swiGLUSwift(gateUpBLAS.p, act.p, inner: inner, rows: 0..<rows)
            sgemmSerial(transA: false, transB: true, m: rows, n: width, k: inner, alpha: 1, act.p, lda: inner, wd.p,
                        ldb: inner, beta: 0, outBLAS.p, ldc: width)
            let worstGateUp = (0..<gateUp.count).map { abs(gateUp[$0] - gateUpBLAS[$0]) / (1 + abs(gateUpBLAS[$0])) }.max()!
            let worstOut = (0..<out.count).map { abs(out[$0] - outBLAS[$0]) / (1 + abs(outBLAS[$0])) }.max()!
            #expect(worstGateUp < 1e-5 && worstOut < (inner > 128 ? 1e-4 : 1e-5), "rows \(rows) width \(width) inner \(inner): \(worstGateUp), \(worstOut)")
            #expect((0..<out.count).contains { out[$0] != 0 })
            let split = rows / 3 + 1, outSplit = Buffer(rows * width)
            trmdis_mlp_swiglu_avx2(split, width, inner, x.p, packed.p, outSplit.p, nil, scratch.p)
            trmdis_mlp_swiglu_avx2(rows - split, width, inner, x.p + split * width, packed.p, outSplit.p + split * width,
                                   nil, scratch.p)
            #expect((0..<out.count).allSatisfy { out[$0].bitPattern == outSplit[$0].bitPattern }, "rows \(rows) split")
        }
    }

    /// The AVX-512 fused forward's first half (mlp_avx512.c, `SwiGLU.formsActivationInTiles`) gives the bits of
    /// the packed product followed by the AVX-512 activation, gate_up and act both, on every tile height (1-14
    /// rows and a remainder), widths with and without a tail, inner sizes of one to several panels; without
    /// gate_up the same activation. Run on any CPU with AVX-512.
    @Test func avx512GateUpTilesGiveTheProductsBits() {
        guard trmdis_mlp_avx512_built() == 1, BLASRuntime.instructionSet() == "avx512" else {
            print("KernelTests: no AVX-512 here; the activation in the product's tiles is not used")
            return
        }
        var g = GradCheck()
        for (rows, width, inner) in [(1, 97, 512), (15, 33, 32), (56, 97, 64), (29, 7, 96), (14, 16, 32)] {
            let x = Buffer(rows * width), wgu = Buffer(2 * inner * width), packed = Buffer(2 * inner * width)
            g.fill(x.p, x.count); g.fill(wgu.p, wgu.count)
            trmdis_pack_nt(wgu.p, 2 * inner, width, packed.p)
            let gateUp = Buffer(rows * 2 * inner), act = Buffer(rows * inner), actAlone = Buffer(rows * inner)
            trmdis_mlp_gate_up_avx512(rows, width, inner, x.p, packed.p, act.p, gateUp.p)
            trmdis_mlp_gate_up_avx512(rows, width, inner, x.p, packed.p, actAlone.p, nil)
            let gateUpProduct = Buffer(rows * 2 * inner), actProduct = Buffer(rows * inner)
            trmdis_sgemm_packed(rows, 2 * inner, width, x.p, width, packed.p, gateUpProduct.p, 2 * inner, 0)
            trmdis_swiglu_avx512(gateUpProduct.p, actProduct.p, inner, 0, rows)
            let same = { (a: Buffer, b: Buffer) in (0..<a.count).allSatisfy { a[$0].bitPattern == b[$0].bitPattern } }
            #expect(same(gateUp, gateUpProduct) && same(act, actProduct) && same(actAlone, act),
                    "rows \(rows) width \(width) inner \(inner)")
            #expect((0..<act.count).contains { act[$0] != 0 })
        }
    }

    /// A prediction of a few puzzles runs on packed weights where the CPU has the engine's own products
    /// (`Runner.withPackedWeights`), and gives OpenBLAS's logits to rounding: two attention blocks, widths with
    /// tail columns (D 72, qkv 216 = 6·32 + 24), 3 × 41 rows.
    @Test func predictionOnPackedWeightsMatchesOpenBLAS() throws {
        let c = ModelConfig(vocabSize: 7, seqLen: 40, puzzleEmbLen: 1, hiddenSize: 72, numHeads: 4, numLayers: 2,
                            hCycles: 2, lCycles: 2, supervisionSteps: 3, timeEmbedding: true)
        let model = try Model(config: c, seed: 5)
        let batch = 3, cells = batch * c.seqLen * c.vocabSize
        var rng = RNG(seed: 9)
        let inputs = (0..<batch * c.seqLen).map { _ in Int32(rng.uniform() * 7) % 7 }
        let ids = [Int32](repeating: 0, count: batch)
        let predictor = try Predictor(model: model, batchSize: batch)
        #expect(predictor.runner.packsWeights == (SmallGEMM.weightsKernel != nil))
        #expect(c.hiddenSize % 32 != 0 && 3 * c.hiddenSize % 32 != 0)
        var packed: [Float] = []
        try inputs.withUnsafeBufferPointer { (x) throws(TRMError) in
            try ids.withUnsafeBufferPointer { (p) throws(TRMError) in
                try predictor.run(inputs: x.baseAddress!, puzzleIds: p.baseAddress!, count: batch,
                                  options: InferenceOptions(steps: 1)) { step in
                    packed = Array(UnsafeBufferPointer(start: step.logits, count: cells))
                }
            }
        }
        let runner = try Runner(model: model, batchSize: batch)  // the same step on OpenBLAS's products
        runner.packsEveryStep = false
        for i in inputs.indices { runner.tokens[i] = inputs[i] }
        for b in 0..<batch { runner.puzzleIds[b] = 0 }
        runner.resetCarry()
        runner.timeStep = InferenceOptions().resolved(for: model).timeRow(step: 1)
        try runner.forward(requiresGrad: false)
        let worst = (0..<cells).map { abs(packed[$0] - runner.logits[$0]) / (1 + abs(runner.logits[$0])) }.max()!
        #expect(worst < 1e-4, "largest difference \(worst)")
    }

    /// On AVX-512 a training step runs its forward products on weights packed once per step
    /// (`Runner.packsEveryStep`), and its input gradients through W_o and W_down too: its logits and gradients
    /// are OpenBLAS's to rounding, for attention and `mlp_t` blocks with tail columns (D 144, above the mixer
    /// kernels' narrow widths, so that SwiGLU's backward runs chunk by chunk) and 26 × 41 = 1,066 rows (C's rows
    /// split across the pool).
    @Test(arguments: [Mixer.attention, Mixer.mlpT]) func trainingOnPackedWeightsMatchesOpenBLAS(mixer: Mixer) throws {
        let c = ModelConfig(vocabSize: 7, seqLen: 40, puzzleEmbLen: 1, hiddenSize: 144, numHeads: 4, numLayers: 2,
                            mixer: mixer, posEncoding: mixer == .attention ? .rope : .none, hCycles: 2, lCycles: 2)
        let model = try Model(config: c, seed: 5)
        let batch = 26, cells = batch * c.seqLen * c.vocabSize
        let packed = try Runner(model: model, batchSize: batch), blas = try Runner(model: model, batchSize: batch)
        #expect(packed.packsEveryStep == SmallGEMM.trainsOnPackedWeights)
        blas.packsEveryStep = false
        var rng = RNG(seed: 9)
        for i in 0..<batch * c.seqLen { packed.tokens[i] = Int32(rng.uniform() * 7) % 7 }
        for r in [packed, blas] {
            for i in 0..<batch * c.seqLen { r.tokens[i] = packed.tokens[i] }
            for b in 0..<batch { r.puzzleIds[b] = 0 }
            r.resetCarry()
            try r.forward(requiresGrad: true)
            for i in 0..<cells { r.dLogits[i] = r.logits[i] / Float(cells) }  // any gradient that depends on the output
            r.zeroGradients()
            try r.backward()
        }
        let logits = (0..<cells).map { abs(packed.logits[$0] - blas.logits[$0]) / (1 + abs(blas.logits[$0])) }.max()!
        #expect(logits < 1e-4, "largest difference in the logits \(logits)")
        // Other kernels, other rounding: equal bits everywhere would mean the packed step ran OpenBLAS.
        #expect((0..<cells).contains { packed.logits[$0] != blas.logits[$0] } == SmallGEMM.trainsOnPackedWeights)
        var scale: Float = 0
        for i in 0..<model.layout.total { scale = max(scale, abs(blas.gradients[i])) }
        let gradients = (0..<model.layout.total).map { abs(packed.gradients[$0] - blas.gradients[$0]) }.max()!
        #expect(scale > 0 && gradients < 1e-3 * scale, "largest difference in the gradients \(gradients) of \(scale)")
    }

    /// The AVX-512 SwiGLU twins give the Swift kernels' bits, at widths with and without a masked tail (1-15
    /// lanes left) and in place. Run on a CPU with AVX-512 (and its operating system's support); elsewhere
    /// the test checks that the engine does not choose them and says why it compared nothing.
    @Test func avx512KernelsGiveTheSwiftBits() throws {
        guard trmdis_kernels_avx512_built() == 1, BLASRuntime.instructionSet() == "avx512" else {
            #expect(Elementwise.level < .avx512)
            print("KernelTests: no AVX-512 on this CPU; the AVX-512 kernels are not used (nothing to compare)")
            return
        }
        var rng = RNG(seed: 11)
        func values(_ n: Int, scale: Float) -> [Float] {
            (0..<n).map { i in i % 89 == 0 ? [-200, 200, 0, -0.0][i / 89 % 4] : (Float(rng.uniform()) * 2 - 1) * scale }
        }
        func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }
        for inner in [1, 3, 15, 16, 17, 31, 97, 512, 1365] {
            let rows = 4
            let gateUp = values(rows * 2 * inner, scale: 12), dAct = values(rows * inner, scale: 2)
            var act1 = [Float](repeating: 7, count: rows * inner), act2 = act1
            act1.withUnsafeMutableBufferPointer { Elementwise.swiGLUSwift(gateUp, $0.baseAddress!, inner: inner, rows: 1..<rows) }
            act2.withUnsafeMutableBufferPointer { trmdis_swiglu_avx512(gateUp, $0.baseAddress!, inner, 1, rows) }
            #expect(bits(act1) == bits(act2), "SwiGLU, inner = \(inner)")  // row 0 untouched by both
            var d1 = gateUp, d2 = gateUp
            d1.withUnsafeMutableBufferPointer { Elementwise.swiGLUBackwardSwift($0.baseAddress!, dAct: dAct, dGateUp: $0.baseAddress!, inner: inner, rows: 0..<rows) }
            d2.withUnsafeMutableBufferPointer { trmdis_swiglu_backward_avx512($0.baseAddress!, dAct, $0.baseAddress!, inner, 0, rows) }
            #expect(bits(d1) == bits(d2), "SwiGLU backward, inner = \(inner)")
        }
        let cap = getenv("TRMDIS_KERNELS").map { String(cString: $0) }
        #expect(Elementwise.level == (cap == "baseline" ? .baseline : cap == "avx2" ? .avx2 : .avx512))
    }
}
