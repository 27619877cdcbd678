import Testing
import TRMDIS

/// A tiny model must drive the token error on a handful of fixed examples to zero: the whole forward,
/// backward and optimiser path working together. The labels are random, so only memorisation (i.e. real
/// learning) passes, and the bar is checked on the argmax of the logits.
@Suite struct OverfitTests {
    @Test(arguments: [Mixer.attention, Mixer.mlpT]) func tinyModelMemorisesFixedExamples(mixer: Mixer) throws {
        let config = ModelConfig(vocabSize: 4, seqLen: 8, puzzleEmbLen: 1, hiddenSize: 32, numHeads: 2,
                                 expansion: 2, numLayers: 1, mixer: mixer, posEncoding: mixer == .attention ? .rope : .none,
                                 hCycles: 1, lCycles: 2)
        let batch = 4
        let model = try Model(config: config, seed: 1)
        let runner = try Runner(model: model, batchSize: batch)
        let adam = try AdamATan2(count: model.parameterCount, weightDecay: 0)
        var rng = RNG(seed: 99)
        let tokens = (0..<batch * 8).map { _ in Int32(rng.below(4)) }
        let labels = (0..<batch * 8).map { _ in Int32(rng.below(4)) }
        func tokenErrors() -> Int {
            var errors = 0
            for i in 0..<batch * 8 {
                var best = 0
                for v in 1..<4 where runner.logits[i * 4 + v] > runner.logits[i * 4 + best] { best = v }
                if best != Int(labels[i]) { errors += 1 }
            }
            return errors
        }
        var errors = Int.max, initialErrors = -1, steps = 0
        while steps < 300 && errors > 0 {
            runner.resetCarry()
            for i in 0..<batch * 8 { runner.tokens[i] = tokens[i] }
            try runner.forward(requiresGrad: true)
            errors = tokenErrors()
            if initialErrors < 0 { initialErrors = errors }
            try Losses.crossEntropy(.stablemax, logits: runner.logits, labels: labels, batch: batch, seqLen: 8,
                                    vocab: 4, gradScale: 1 / Float(batch), dLogits: runner.dLogits)
            runner.zeroGradients()
            try runner.backward()
            adam.update(params: model.weights, grads: runner.gradients, lr: 3e-3)
            steps += 1
        }
        #expect(initialErrors > 8)
        #expect(errors == 0, "token errors after \(steps) steps: \(errors)")
    }
}
