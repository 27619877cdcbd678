#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TRMDIS
@testable import TRMDISTasks

/// Pins the reference's conventions (docs/model.md: The network, TRM-ACT) with hand-computed values and naive re-derivations.
@Suite struct ConventionTests {
    @Test func stablemaxValues() throws {
        let p = Losses.stablemax([1, -1])
        #expect(abs(p[0] - 0.8) < 1e-12 && abs(p[1] - 0.2) < 1e-12)
        #expect(Losses.stablemax([0, 0]) == [0.5, 0.5])
    }

    @Test func stablemaxLossValue() throws {
        // -log p_label for logits [1, -1]: label 0 → -log 0.8, label 1 → -log 0.2; token mean per example.
        let logits: [Float] = [1, -1, 1, -1]
        let loss = try Losses.crossEntropy(.stablemax, logits: logits, labels: [0, 1], batch: 1, seqLen: 2, vocab: 2)
        #expect(abs(loss - (-log(0.8) - log(0.2)) / 2) < 1e-12)
    }

    @Test func ropeHalfSplitLayout() throws {
        let arena = Arena()
        let rope = try RoPE(headDim: 4, length: 2, theta: 10_000, arena: arena)
        // One head (D = 4): rows are [q | k | v] = 12 values; row 1 sits at position 1.
        var qkv: [Float] = [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0,
                            1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9]
        qkv.withUnsafeMutableBufferPointer { rope.apply(qkv: $0.baseAddress!, rows: 2, heads: 1, inverse: false) }
        #expect(Array(qkv[0..<4]) == [1, 2, 3, 4])  // position 0: no rotation
        // Position 1: columns i and i+2 share frequency 10000^(-2i/4) = 1, 0.01; h' = [a·cos − b·sin ; b·cos + a·sin].
        let c0 = cos(1.0), s0 = sin(1.0), c1 = cos(0.01), s1 = sin(0.01)
        let expectedQ = [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1]
        let expectedK = [5 * c0 - 7 * s0, 6 * c1 - 8 * s1, 7 * c0 + 5 * s0, 8 * c1 + 6 * s1]
        for i in 0..<4 {
            #expect(abs(Double(qkv[12 + i]) - expectedQ[i]) < 1e-5)
            #expect(abs(Double(qkv[16 + i]) - expectedK[i]) < 1e-5)
        }
        #expect(Array(qkv[20..<24]) == [9, 9, 9, 9])  // v is never rotated
    }

    /// Naive attention reading q at feature h·hd+i, k at D+h·hd+i and v at 2D+h·hd+i of x·W_qkvᵀ.
    @Test func qkvFeatureOrderIsHeadMajorQKV() throws {
        var g = GradCheck()
        let batch = 1, l = 3, heads = 2, hd = 2, d = 4
        let a = Attention(batch: batch, length: l, heads: heads, headDim: hd)
        let arena = Arena()
        let x = Buffer(l * d), wqkv = Buffer(3 * d * d), wo = Buffer(d * d), out = Buffer(l * d)
        g.fill(x.p, x.count); g.fill(wqkv.p, wqkv.count); g.fill(wo.p, wo.count)
        let saved = Attention.Saved(qkv: try arena.floats(l * 3 * d), probs: try arena.floats(heads * l * l), context: try arena.floats(l * d))
        a.forward(x.p, wQKV: wqkv.p, wO: wo.p, rope: nil, saved: saved, out: out.p)
        func proj(_ t: Int, _ feature: Int) -> Double {
            (0..<d).reduce(0.0) { $0 + Double(x[t * d + $1]) * Double(wqkv[feature * d + $1]) }
        }
        var context = [Double](repeating: 0, count: l * d)
        for h in 0..<heads {
            for i in 0..<l {
                var scores = (0..<l).map { j in
                    (0..<hd).reduce(0.0) { $0 + proj(i, h * hd + $1) * proj(j, d + h * hd + $1) } / Double(hd).squareRoot()
                }
                let m = scores.max()!
                scores = scores.map { exp($0 - m) }
                let total = scores.reduce(0, +)
                for e in 0..<hd {
                    context[i * d + h * hd + e] = (0..<l).reduce(0.0) { $0 + scores[$1] / total * proj($1, 2 * d + h * hd + e) }
                }
            }
        }
        for t in 0..<l {
            for o in 0..<d {
                let expected = (0..<d).reduce(0.0) { $0 + context[t * d + $1] * Double(wo[o * d + $1]) }
                #expect(abs(Double(out[t * d + o]) - expected) < 1e-5)
            }
        }
    }

    /// out = W_down·(SiLU(gate)⊙up) with the gate in the first half of gate_up's output features.
    @Test func swigluGateComesFirst() throws {
        var g = GradCheck()
        let s = SwiGLU(width: 3, inner: 2)
        let x = Buffer(3), wgu = Buffer(4 * 3), wd = Buffer(3 * 2), gu = Buffer(4), act = Buffer(2), out = Buffer(3)
        g.fill(x.p, 3); g.fill(wgu.p, 12); g.fill(wd.p, 6)
        s.forward(x.p, wGateUp: wgu.p, wDown: wd.p, gateUp: gu.p, act: act.p, out: out.p, rows: 1)
        func row(_ r: Int) -> Double { (0..<3).reduce(0.0) { $0 + Double(wgu[r * 3 + $1]) * Double(x[$1]) } }
        let h = (0..<2).map { j -> Double in let gate = row(j), up = row(2 + j); return gate / (1 + exp(-gate)) * up }
        for o in 0..<3 {
            #expect(abs(Double(out[o]) - (Double(wd[o * 2]) * h[0] + Double(wd[o * 2 + 1]) * h[1])) < 1e-6)
        }
    }

    /// The fused forward (each pool thread runs gate_up, the activation and the down product on its own rows)
    /// computes what the product-by-product forward does, gate_up included, on a shape whose rows split
    /// unevenly into threads and chunks (the chunk is 512 rows here, a thread's share of it 1 to 512). Not
    /// to the bit: OpenBLAS picks other kernels for a product of fewer rows, and on an AVX-512 CPU the fused
    /// path forms gate_up with the engine's own kernel (`SmallGEMM`), on an AVX2 one the whole MLP in one pass
    /// (`SwiGLU.runsOnePass`; `make test` runs this under TRMDIS_KERNELS=avx2 too).
    @Test func swigluFusedForwardMatchesProductByProduct() throws {
        var g = GradCheck()
        // On AVX-512 both products by SmallGEMM (n 96 and 33), in passes of `forwardPassRows` rows.
        let (rows, width, inner) = (1_111, 33, 48)
        let s = SwiGLU(width: width, inner: inner)
        let x = Buffer(rows * width), wgu = Buffer(2 * inner * width), wd = Buffer(width * inner)
        g.fill(x.p, x.count); g.fill(wgu.p, wgu.count); g.fill(wd.p, wd.count)
        let act = Buffer(s.actScratch(rows: rows))
        let gu1 = Buffer(rows * 2 * inner), gu2 = Buffer(rows * 2 * inner), out1 = Buffer(rows * width), out2 = Buffer(rows * width)
        s.forward(x.p, wGateUp: wgu.p, wDown: wd.p, gateUp: gu1.p, act: act.p, out: out1.p, rows: rows, fused: false)
        s.forward(x.p, wGateUp: wgu.p, wDown: wd.p, gateUp: gu2.p, act: act.p, out: out2.p, rows: rows, fused: true)
        let worstGateUp = (0..<gu1.count).map { abs(gu1[$0] - gu2[$0]) / (1 + abs(gu1[$0])) }.max()!
        let worstOut = (0..<out1.count).map { abs(out1[$0] - out2[$0]) / (1 + abs(out1[$0])) }.max()!
        #expect(worstGateUp <= 1e-5 && worstOut <= 1e-5, "gate_up \(worstGateUp), out \(worstOut)")
        #expect((0..<out1.count).contains { out1[$0] != 0 })
        // Without a backward to follow (the one-pass forward on AVX2 then skips gate_up): the same output bits.
        let out3 = Buffer(rows * width)
        s.forward(x.p, wGateUp: wgu.p, wDown: wd.p, gateUp: gu1.p, act: act.p, out: out3.p, rows: rows, fused: true,
                  keepsGateUp: false)
        #expect((0..<out2.count).allSatisfy { out2[$0].bitPattern == out3[$0].bitPattern })
    }

    /// The backward fused per thread (the engine's own AVX-512 products, each thread's weight gradients in its
    /// own slot, added in thread order) computes what the chunk-by-chunk backward does, with dOut and dx the
    /// same buffer and dGateUp over gateUp, as the token mixer runs it. On a CPU without AVX-512 both runs take
    /// the chunk-by-chunk path, which the test then says.
    @Test func swigluFusedBackwardMatchesChunkByChunk() throws {
        var g = GradCheck()
        let (rows, width, inner) = (1_111, 33, 32)
        let s = SwiGLU(width: width, inner: inner)
        if s.partialSlots < Threads.count { print("ConventionTests: no fused backward on this CPU (no AVX-512)") }
        let x = Buffer(rows * width), wgu = Buffer(2 * inner * width), wd = Buffer(width * inner)
        g.fill(x.p, x.count); g.fill(wgu.p, wgu.count); g.fill(wd.p, wd.count)
        let act = Buffer(s.actScratch(rows: rows)), out = Buffer(rows * width)
        let d0 = Buffer(rows * width), dwgu0 = Buffer(2 * inner * width), dwd0 = Buffer(width * inner)
        g.fill(d0.p, d0.count); g.fill(dwgu0.p, dwgu0.count); g.fill(dwd0.p, dwd0.count)  // all accumulate
        var results: [[Float]] = []
        for fused in [false, true] {
            let gu = Buffer(rows * 2 * inner), d = Buffer(rows * width), dwgu = Buffer(2 * inner * width)
            let dwd = Buffer(width * inner)
            d.copy(from: d0); dwgu.copy(from: dwgu0); dwd.copy(from: dwd0)
            s.forward(x.p, wGateUp: wgu.p, wDown: wd.p, gateUp: gu.p, act: act.p, out: out.p, rows: rows, fused: fused)
            s.backward(d.p, x: x.p, gateUp: gu.p, wGateUp: wgu.p, wDown: wd.p, dWGateUp: dwgu.p, dWDown: dwd.p,
                       act: act.p, dGateUp: gu.p, dx: d.p, rows: rows, fused: fused)
            results.append([d, dwgu, dwd].flatMap { b in (0..<b.count).map { b[$0] } })
        }
        let worst = zip(results[0], results[1]).map { abs($0 - $1) / (1 + abs($0)) }.max()!
        #expect(worst < 1e-4, "relative difference \(worst)")
    }

    /// In `mlp_t` the norm runs over the sequence axis: every (example, channel) column has unit RMS.
    @Test func tokenMixerNormalisesOverSequence() throws {
        var g = GradCheck()
        let arena = Arena()
        let b = 2, l = 5, d = 3, inner = 6, n = b * l * d
        let m = TokenMixer(batch: b, length: l, dModel: d, swiglu: SwiGLU(width: l, inner: inner), eps: 1e-5)
        let x = Buffer(n), wgu = Buffer(2 * inner * l), wd = Buffer(l * inner), out = Buffer(n)
        g.fill(x.p, n, scale: 3); g.fill(wgu.p, wgu.count); g.fill(wd.p, wd.count)
        let saved = TokenMixer.Saved(gateUp: try arena.floats(b * d * 2 * inner), outT: try arena.floats(n), rstd: try arena.floats(b * d))
        m.forward(x.p, wGateUp: wgu.p, wDown: wd.p, saved: saved, xT: try arena.floats(n), f: try arena.floats(n),
                  act: try arena.floats(b * d * inner), out: out.p)
        for e in 0..<b {
            for c in 0..<d {
                let ms = (0..<l).reduce(0.0) { $0 + Double(out[(e * l + $1) * d + c] * out[(e * l + $1) * d + c]) } / Double(l)
                #expect(abs(ms - 1) < 1e-3)
            }
        }
    }

    @Test func swigluInnerWidths() throws {
        #expect(ModelConfig.swigluInner(expansion: 4, width: 512) == 1536)
        #expect(ModelConfig.swigluInner(expansion: 4, width: 97) == 512)
        #expect(ModelConfig.swigluInner(expansion: 4, width: 916) == 2560)
        #expect(ModelConfig.swigluInner(expansion: 4, width: 256) == 768)
    }

    @Test func initialisation() throws {
        let model = try Model(preset: .sudokuAtt, seed: 7)
        let qkv = try #require(model.tensor("L_level.layers.0.self_attn.qkv_proj.weight"))
        let std = 1 / 512.0.squareRoot()
        let mean = qkv.reduce(0.0) { $0 + Double($1) } / Double(qkv.count)
        let sampleStd = (qkv.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(qkv.count)).squareRoot()
        #expect(abs(sampleStd / std - 1) < 0.01)                       // JAX-style: actual std = requested
        #expect(qkv.allSatisfy { abs(Double($0)) <= 2.2737 * std })    // truncated at ±2 of the underlying normal
        #expect(qkv.contains { abs(Double($0)) > 2.2 * std })          // and the tails are there
        let down = try #require(model.tensor("L_level.layers.0.mlp.down_proj.weight"))
        #expect(down.allSatisfy { abs(Double($0)) <= 2.2737 / 1536.0.squareRoot() })
        #expect(try #require(model.tensor("q_head.weight")).allSatisfy { $0 == 0 })
        #expect(Array(try #require(model.tensor("q_head.bias"))) == [-5, -5])
        #expect((0..<model.config.puzzleEmbDim).allSatisfy { model.puzzleEmbedding[$0] == 0 })
        let h = (0..<512).map { Double(model.hInit[$0]) }
        let hStd = (h.reduce(0) { $0 + $1 * $1 } / 512).squareRoot()
        #expect(abs(hStd - 1) < 0.1 && h.allSatisfy { abs($0) <= 2.2737 })
    }

    @Test func seededInitialisationIsReproducible() throws {
        let a = try Model(preset: .disCompact, seed: 42), b = try Model(preset: .disCompact, seed: 42)
        let c = try Model(preset: .disCompact, seed: 43)
        let n = a.parameterCount
        #expect((0..<n).allSatisfy { a.weights[$0].bitPattern == b.weights[$0].bitPattern })
        #expect((0..<n).contains { a.weights[$0] != c.weights[$0] })
        #expect((0..<256).allSatisfy { a.hInit[$0] == b.hInit[$0] && a.lInit[$0] == b.lInit[$0] })
    }

    @Test func initialCarryIsBroadcast() throws {
        let model = try Model(preset: .nqueens, seed: 1)
        let r = try Runner(model: model, batchSize: 2)
        let d = 256
        for t in [0, 17, 127] {
            #expect((0..<d).allSatisfy { r.y[t * d + $0] == model.hInit[$0] && r.z[t * d + $0] == model.lInit[$0] })
        }
    }
}
