import Testing
@testable import TRMDIS
@testable import TRMDISTasks

/// Every layer alone against central finite differences. The loss is Σ out ⊙ R for a fixed random R,
/// so the upstream gradient is R. Tolerance: relative error < 1e-2 (see GradCheck).
@Suite struct LayerGradientTests {
    static let tolerance = 1e-2

    @Test func rmsNorm() throws {
        var g = GradCheck()
        let rows = 3, width = 7
        let x = Buffer(rows * width), y = Buffer(rows * width), r = Buffer(rows * width)
        let rstd = Buffer(rows), dx = Buffer(rows * width)
        g.fill(x.p, x.count, scale: 2); g.fill(r.p, r.count)
        func loss() -> Double {
            RMSNorm.forward(x.p, y.p, rstd: rstd.p, rows: rows, width: width, eps: 1e-5)
            return y.dot(r)
        }
        _ = loss()
        RMSNorm.backward(r.p, y: y.p, rstd: rstd.p, dx.p, rows: rows, width: width)
        #expect(g.relativeError(param: x.p, count: x.count, analytic: dx.p, eps: 1e-3, loss: loss) < Self.tolerance)
    }

    /// 1,100 rows run in three blocks of 512, 512 and 76 (SwiGLU.chunkRows): dW_down sums across them.
    /// Width 33 with inner 32 takes the engine's own AVX-512 products where the CPU has them (`SmallGEMM`: the
    /// weight gradients and dx chunk by chunk at 40 rows; forward and backward fused per thread at 1,100).
    @Test(arguments: [(4, 5, 6), (1100, 5, 6), (40, 33, 32), (1100, 33, 32)])
    func swiGLU(rows: Int, width: Int, inner: Int) throws {
        var g = GradCheck()
        let s = SwiGLU(width: width, inner: inner)
        let own = SmallGEMM.isAvailable && inner == 32
        let packed = own ? 3 * inner * width : 0, slots = own ? Threads.count * 3 * width * inner : 0
        // On AVX2 (no AVX-512), the one-pass forward's weights: groups of 8 inner columns of the gate and the up
        // branch, then 16-column panels of W_downᵀ over the inner size rounded up to 8.
        let groups = (inner + 7) / 8, onePass = SwiGLU.runsOnePass(width: width) ? groups * 16 * (width + (width + 15) / 16 * 8) : 0
        #expect(s.actScratch(rows: rows) == min(rows, 512) * inner + packed + slots + onePass)
        #expect(SmallGEMM.takesTN(m: width, n: inner) == (SmallGEMM.isAvailable && inner == 32))
        let x = Buffer(rows * width), wgu = Buffer(2 * inner * width), wd = Buffer(width * inner)
        let gu = Buffer(rows * 2 * inner), act = Buffer(s.actScratch(rows: rows)), out = Buffer(rows * width)
        let r = Buffer(rows * width), dx = Buffer(rows * width), dwgu = Buffer(2 * inner * width)
        let dwd = Buffer(width * inner), dgu = Buffer(rows * 2 * inner)
        g.fill(x.p, x.count); g.fill(wgu.p, wgu.count); g.fill(wd.p, wd.count); g.fill(r.p, r.count)
        func loss() -> Double {
            s.forward(x.p, wGateUp: wgu.p, wDown: wd.p, gateUp: gu.p, act: act.p, out: out.p, rows: rows)
            return out.dot(r)
        }
        _ = loss()
        s.backward(r.p, x: x.p, gateUp: gu.p, wGateUp: wgu.p, wDown: wd.p, dWGateUp: dwgu.p, dWDown: dwd.p,
                   act: act.p, dGateUp: dgu.p, dx: dx.p, rows: rows)
        #expect(g.relativeError(param: x.p, count: x.count, analytic: dx.p, loss: loss) < Self.tolerance)
        #expect(g.relativeError(param: wgu.p, count: wgu.count, analytic: dwgu.p, loss: loss) < Self.tolerance)
        #expect(g.relativeError(param: wd.p, count: wd.count, analytic: dwd.p, loss: loss) < Self.tolerance)
    }

    @Test func rope() throws {
        var g = GradCheck()
        let arena = Arena()
        let rope = try RoPE(headDim: 4, length: 3, theta: 10_000, arena: arena)
        let rows = 6, width = 3 * 8
        let qkv = Buffer(rows * width), work = Buffer(rows * width), r = Buffer(rows * width), d = Buffer(rows * width)
        g.fill(qkv.p, qkv.count); g.fill(r.p, r.count)
        func loss() -> Double {
            work.copy(from: qkv)
            rope.apply(qkv: work.p, rows: rows, heads: 2, inverse: false)
            return work.dot(r)
        }
        d.copy(from: r)
        rope.apply(qkv: d.p, rows: rows, heads: 2, inverse: true)
        #expect(g.relativeError(param: qkv.p, count: qkv.count, analytic: d.p, loss: loss) < Self.tolerance)
    }

    @Test(arguments: [true, false]) func attention(withRoPE: Bool) throws {
        var g = GradCheck()
        let arena = Arena()
        let a = Attention(batch: 2, length: 3, heads: 2, headDim: 4)
        let rope: RoPE? = withRoPE ? try RoPE(headDim: 4, length: 3, theta: 10_000, arena: arena) : nil
        let rows = 6, d = 8
        let x = Buffer(rows * d), wqkv = Buffer(3 * d * d), wo = Buffer(d * d), out = Buffer(rows * d), r = Buffer(rows * d)
        let saved = Attention.Saved(qkv: try arena.floats(rows * 3 * d), probs: try arena.floats(2 * 2 * 9), context: try arena.floats(rows * d))
        let dx = Buffer(rows * d), dwqkv = Buffer(3 * d * d), dwo = Buffer(d * d)
        g.fill(x.p, x.count); g.fill(wqkv.p, wqkv.count, scale: 0.7); g.fill(wo.p, wo.count); g.fill(r.p, r.count)
        func loss() -> Double {
            a.forward(x.p, wQKV: wqkv.p, wO: wo.p, rope: rope, saved: saved, out: out.p)
            return out.dot(r)
        }
        _ = loss()
        a.backward(r.p, x: x.p, wQKV: wqkv.p, wO: wo.p, rope: rope, saved: saved, dWQKV: dwqkv.p, dWO: dwo.p,
                   dContext: try arena.floats(rows * d), dQKV: try arena.floats(rows * 3 * d),
                   dProbs: try arena.floats(Threads.count * 9), dProbsSlots: Threads.count, dx: dx.p)
        #expect(g.relativeError(param: x.p, count: x.count, analytic: dx.p, loss: loss) < Self.tolerance)
        #expect(g.relativeError(param: wqkv.p, count: wqkv.count, analytic: dwqkv.p, loss: loss) < Self.tolerance)
        #expect(g.relativeError(param: wo.p, count: wo.count, analytic: dwo.p, loss: loss) < Self.tolerance)
    }

    @Test func tokenMixer() throws {
        var g = GradCheck()
        let arena = Arena()
        let b = 2, l = 5, d = 3, inner = 6
        let m = TokenMixer(batch: b, length: l, dModel: d, swiglu: SwiGLU(width: l, inner: inner), eps: 1e-5)
        let n = b * l * d
        let x = Buffer(n), wgu = Buffer(2 * inner * l), wd = Buffer(l * inner), out = Buffer(n), r = Buffer(n)
        let saved = TokenMixer.Saved(gateUp: try arena.floats(b * d * 2 * inner), outT: try arena.floats(n), rstd: try arena.floats(b * d))
        let xT = try arena.floats(n), f = try arena.floats(n), act = try arena.floats(b * d * inner), dgu = try arena.floats(b * d * 2 * inner)
        let dx = Buffer(n), dwgu = Buffer(wgu.count), dwd = Buffer(wd.count)
        g.fill(x.p, n); g.fill(wgu.p, wgu.count); g.fill(wd.p, wd.count); g.fill(r.p, n)
        func loss() -> Double {
            m.forward(x.p, wGateUp: wgu.p, wDown: wd.p, saved: saved, xT: xT, f: f, act: act, out: out.p)
            return out.dot(r)
        }
        _ = loss()
        m.backward(r.p, x: x.p, wGateUp: wgu.p, wDown: wd.p, saved: saved, dWGateUp: dwgu.p, dWDown: dwd.p,
                   xT: xT, dT: f, act: act, dGateUp: dgu, dx: dx.p)
        #expect(g.relativeError(param: x.p, count: n, analytic: dx.p, eps: 1e-3, loss: loss) < Self.tolerance)
        #expect(g.relativeError(param: wgu.p, count: wgu.count, analytic: dwgu.p, eps: 1e-3, loss: loss) < Self.tolerance)
        #expect(g.relativeError(param: wd.p, count: wd.count, analytic: dwd.p, eps: 1e-3, loss: loss) < Self.tolerance)
    }

    @Test(arguments: [Mixer.attention, Mixer.mlpT]) func block(mixer: Mixer) throws {
        var g = GradCheck()
        let config = ModelConfig(vocabSize: 5, seqLen: 4, puzzleEmbLen: 1, hiddenSize: 8, numHeads: 2, expansion: 2,
                                 numLayers: 1, mixer: mixer, posEncoding: mixer == .attention ? .rope : .none)
        let model = try Model(config: config, seed: 3)
        let shapes = Block.Shapes(config, batch: 2)
        let block = Block(shapes: shapes, offsets: model.layout.blocks[0])
        let arena = Arena()
        let saved = try Block.Saved(shapes, arena: arena), scratch = try Block.Scratch(shapes, arena: arena)
        let n = shapes.rows * 8
        let x = Buffer(n), r = Buffer(n), d = Buffer(n), dW = Buffer(model.layout.total)
        g.fill(x.p, n, scale: 2); g.fill(r.p, n)
        func loss() -> Double {
            block.forward(x.p, weights: model.weights, rope: model.rope, saved: saved, scratch: scratch)
            var s = 0.0
            for i in 0..<n { s += Double(saved.out[i]) * Double(r[i]) }
            return s
        }
        _ = loss()
        d.copy(from: r)
        block.backward(d.p, x: x.p, weights: model.weights, dW: dW.p, rope: model.rope, saved: saved, scratch: scratch)
        #expect(g.relativeError(param: x.p, count: n, analytic: d.p, eps: 1e-3, loss: loss) < Self.tolerance)
        for spec in model.layout.specs where spec.name.hasPrefix("L_level") {
            let err = g.relativeError(param: model.weights + spec.offset, count: spec.count,
                                      analytic: dW.p + spec.offset, eps: 1e-3, loss: loss)
            #expect(err < Self.tolerance, "\(spec.name): \(err)")
        }
    }

    @Test func inputEmbedding() throws {
        var g = GradCheck()
        // Learned positions, the DIS time embedding, and a puzzle row wider than one prefix token.
        let config = ModelConfig(vocabSize: 5, seqLen: 3, puzzleEmbLen: 2, puzzleEmbDim: 11, numPuzzleIdentifiers: 3,
                                 hiddenSize: 8, numHeads: 2, numLayers: 1, posEncoding: .learned,
                                 supervisionSteps: 4, timeEmbedding: true)
        let model = try Model(config: config, seed: 5)
        g.fill(model.puzzleEmbedding, 3 * 11)
        let batch = 2
        let e = InputEmbedding(config: config, batch: batch, layout: model.layout)
        let tokens: [Int32] = [1, 4, 1, 0, 2, 3], ids: [Int32] = [2, 1]
        let n = batch * config.totalLen * 8
        let x = Buffer(n), r = Buffer(n), dW = Buffer(model.layout.total), dPuzzle = Buffer(batch * 11)
        g.fill(r.p, n)
        func loss() -> Double {
            e.forward(tokens: tokens, puzzleIds: ids, timeStep: 3, weights: model.weights,
                      puzzleTable: model.puzzleEmbedding, x: x.p)
            return x.dot(r)
        }
        _ = loss()
        e.backward(r.p, tokens: tokens, timeStep: 3, dW: dW.p, dPuzzle: dPuzzle.p)
        for name in ["embed_tokens.embedding_weight", "embed_pos.embedding_weight", "timestep_embed.embedding_weight"] {
            let spec = try #require(model.layout.spec(named: name))
            let err = g.relativeError(param: model.weights + spec.offset, count: spec.count,
                                      analytic: dW.p + spec.offset, samples: 200, loss: loss)
            #expect(err < Self.tolerance, "\(name): \(err)")
        }
        for b in 0..<batch {
            let err = g.relativeError(param: model.puzzleEmbedding + Int(ids[b]) * 11, count: 11,
                                      analytic: dPuzzle.p + b * 11, loss: loss)
            #expect(err < Self.tolerance, "puzzle row of example \(b): \(err)")
        }
    }

    @Test func heads() throws {
        var g = GradCheck()
        let config = ModelConfig(vocabSize: 5, seqLen: 3, puzzleEmbLen: 2, hiddenSize: 8, numHeads: 2, numLayers: 1)
        let model = try Model(config: config, seed: 6)
        let spec = try #require(model.layout.spec(named: "q_head.weight"))
        g.fill(model.weights + spec.offset, spec.count)  // zero at init: make the path visible
        let batch = 2, n = batch * config.totalLen * 8
        let h = Heads(config: config, batch: batch, layout: model.layout)
        let y = Buffer(n), logits = Buffer(batch * 3 * 5), q = Buffer(batch * 2)
        let rl = Buffer(logits.count), rq = Buffer(q.count), dy = Buffer(n), dW = Buffer(model.layout.total)
        g.fill(y.p, n); g.fill(rl.p, rl.count); g.fill(rq.p, rq.count)
        func loss() -> Double {
            h.forward(y.p, weights: model.weights, logits: logits.p, q: q.p)
            return logits.dot(rl) + q.dot(rq)
        }
        _ = loss()
        h.backward(dLogits: rl.p, dQ: rq.p, y: y.p, weights: model.weights, dW: dW.p, dy: dy.p)
        #expect(g.relativeError(param: y.p, count: n, analytic: dy.p, samples: 60, loss: loss) < Self.tolerance)
        for name in ["lm_head.weight", "q_head.weight", "q_head.bias"] {
            let s = try #require(model.layout.spec(named: name))
            let err = g.relativeError(param: model.weights + s.offset, count: s.count, analytic: dW.p + s.offset, loss: loss)
            #expect(err < Self.tolerance, "\(name): \(err)")
        }
    }

    @Test(arguments: LossKind.allCases) func crossEntropy(kind: LossKind) throws {
        var g = GradCheck()
        let batch = 2, seq = 4, vocab = 5
        let logits = Buffer(batch * seq * vocab), d = Buffer(logits.count)
        g.fill(logits.p, logits.count, scale: 3)
        let labels: [Int32] = [0, 4, -100, 2, 1, -100, -100, 3]
        func loss() -> Double {
            try! Losses.crossEntropy(kind, logits: logits.p, labels: labels, batch: batch, seqLen: seq, vocab: vocab)
        }
        try Losses.crossEntropy(kind, logits: logits.p, labels: labels, batch: batch, seqLen: seq, vocab: vocab,
                                gradScale: 1, dLogits: d.p)
        #expect(g.relativeError(param: logits.p, count: logits.count, analytic: d.p, samples: 40, eps: 1e-3, loss: loss) < 1e-3)
        for t in [2, 5, 6] { for i in 0..<vocab { #expect(d[t * vocab + i] == 0) } }
    }

    @Test func bceWithLogits() throws {
        var g = GradCheck()
        let x = Buffer(4), d = Buffer(4)
        g.fill(x.p, 4, scale: 4)
        let targets: [Float] = [1, 0, 1, 0]
        func loss() -> Double { Losses.bceWithLogits(logits: x.p, targets: targets, count: 4) }
        Losses.bceWithLogits(logits: x.p, targets: targets, count: 4, dLogits: d.p)
        #expect(g.relativeError(param: x.p, count: 4, analytic: d.p, eps: 1e-3, loss: loss) < 1e-3)
    }
}
