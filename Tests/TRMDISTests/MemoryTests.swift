import Testing
@testable import TRMDIS
@testable import TRMDISTasks

/// What a runner holds beyond the activations backward reads is the part of its memory the benchmark's
/// yardstick does not count (docs/performance.md), so it is pinned here buffer by buffer: a new buffer
/// makes this fail until it is either shared with a dead one or accounted for on purpose.
@Suite struct MemoryTests {
    /// Bytes the arena takes for `count` elements of `size` bytes: 64-byte blocks, at least one.
    static func block(_ count: Int, _ size: Int = 4) -> Int { max(64, (count * size + 63) & ~63) }

    @Test(arguments: [Mixer.attention, .mlpT])
    func runnerHoldsOnlyItsWorkingSet(mixer: Mixer) throws {
        // The benchmark's `tiny` shapes (N-Queens 8x8, D 128, 4 heads, DIS n 2), batch 64.
        let c = ModelConfig(vocabSize: 3, seqLen: 64, puzzleEmbLen: 0, hiddenSize: 128, numHeads: 4,
                            numLayers: 1, mixer: mixer, posEncoding: mixer == .attention ? .rope : .none,
                            hCycles: 1, lCycles: 2, supervisionSteps: 8, timeEmbedding: true)
        let model = try Model(config: c)
        let b = 64, len = c.totalLen, d = c.hiddenSize, rows = b * len, n = rows * d
        let runner = try Runner(model: model, batchSize: b)

        var expected = Self.block(b * c.seqLen) + Self.block(b)            // tokens, puzzle ids
        expected += 2 * Self.block(n)                                       // y, z (x and dX use the y-call's input)
        expected += 2 * Self.block(b * c.seqLen * c.vocabSize)              // logits, dLogits
        expected += 2 * Self.block(b * 2)                                   // q logits, dQ
        expected += Self.block(model.layout.total)                         // gradients
        expected += Self.block(b * c.puzzleEmbDim)                          // puzzle-row gradients
        expected += Self.block(n)                                           // dFlow
        expected += runner.activationBytes
        // The weights packed for the engine's own products: on AVX-512 every runner (training steps run on them).
        expected += SmallGEMM.trainsOnPackedWeights ? Self.block(model.layout.total) : 0
        // And W_o (attention) and W_down packed as B for the input gradients of a training step.
        let backward = (mixer == .attention ? d * d : 0) + d * c.mlpInner
        expected += SmallGEMM.trainsOnPackedWeights ? Self.block(backward) : 0
        switch mixer {
        case .attention:
            expected += 2 * Self.block(0)                                   // no token-mixer xT, dT
            expected += Self.block(512 * c.mlpInner)                        // SwiGLU activation, 512 of 4,096 rows at a time
            expected += Self.block(Threads.count * len * (len + c.headDim)) // dP and dK per thread
        case .mlpT:
            expected += 2 * Self.block(n)                                   // the token mixer's xT, dT
            // An eighth of 4,096 and 8,192 rows; with AVX-512 the mixer's SwiGLU (width 64) also holds its
            // weights packed for the engine's own products and a weight-gradient slot per thread (SmallGEMM).
            let own = SmallGEMM.isAvailable ? 3 * c.tokenMixerInner * len * (1 + Threads.count) : 0
            // On AVX2 instead, its weights packed for the one-pass forward (SwiGLU.runsOnePass).
            let groups = (c.tokenMixerInner + 7) / 8
            let onePass = SwiGLU.runsOnePass(width: len) ? groups * 16 * (len + (len + 15) / 16 * 8) : 0
            expected += Self.block(max(512 * c.mlpInner, 1024 * c.tokenMixerInner + own + onePass))
            expected += Self.block(0)                                       // no attention scratch
        }
        #expect(runner.memoryBytes == expected)
        // The yardstick's part: n + 1 = 3 calls, each input plus one block's saved buffers.
        let perCall: Int
        switch mixer {
        case .attention:
            perCall = Self.block(n) + Self.block(3 * n) + Self.block(b * c.numHeads * len * len) + Self.block(n)
                + Self.block(n) + Self.block(rows) + Self.block(rows * 2 * c.mlpInner) + Self.block(n) + Self.block(rows)
        case .mlpT:
            perCall = Self.block(n) + Self.block(b * d * 2 * c.tokenMixerInner) + Self.block(n) + Self.block(b * d)
                + Self.block(n) + Self.block(0) + Self.block(rows * 2 * c.mlpInner) + Self.block(n) + Self.block(rows)
        }
        #expect(runner.activationBytes == 3 * perCall)
    }
}
