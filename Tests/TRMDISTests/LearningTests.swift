import Testing
@testable import TRMDIS
@testable import TRMDISTasks

/// Arithmetic progressions mod 4 (tokens 2...5) with ~half the cells blanked (token 1): a blank is
/// determined by the visible cells, so the task is learnable, and input and label differ at the blanks.
func progressionExamples(count: Int, seqLen: Int, seed: UInt64) -> ExampleSet {
    var rng = RNG(seed: seed)
    var inputs = [Int32](), labels = [Int32]()
    for _ in 0..<count {
        let start = rng.below(4), stride = 1 + rng.below(3)
        var visible = 0
        for t in 0..<seqLen {
            let v = Int32(2 + (start + t * stride) % 4)
            labels.append(v)
            let blank = t > 1 && rng.uniform() < 0.5   // the first two cells always show the rule
            inputs.append(blank ? 1 : v)
            visible += blank ? 0 : 1
        }
    }
    return ExampleSet(seqLen: seqLen, inputs: inputs, labels: labels)
}

/// A small DIS model learns within a budget of seconds, and its trace moves toward the answer step by
/// step: the mean Hamming distance to the label falls from the first supervision step to the last.
@Suite struct LearningTests {
    @Test func disLearnsAndImprovesStepByStep() throws {
        let config = ModelConfig(vocabSize: 6, seqLen: 10, puzzleEmbLen: 1, hiddenSize: 64, numHeads: 4,
                                 expansion: 2, numLayers: 1, hCycles: 1, lCycles: 2, supervisionSteps: 4,
                                 timeEmbedding: true)
        let train = progressionExamples(count: 512, seqLen: 10, seed: 1)
        let test = progressionExamples(count: 128, seqLen: 10, seed: 2)
        var tc = TrainingConfig()
        tc.batchSize = 32
        tc.learningRate = 3e-3
        tc.warmupSteps = 20
        tc.weightDecay = 0.01
        let trainer = try Trainer(model: try Model(config: config, seed: 1), examples: train, config: tc)
        let before = try evaluate(model: trainer.model, examples: test)
        // 200 steps: at 150 this seed's run ended at 41% exact on the engine's own AVX-512 products and 72% on
        // OpenBLAS's (AMD EPYC Zen 4, OpenBLAS 0.3.21 Cooperlake core), rounding alone deciding; at 200 both
        // pass (87%, 91%), as did seeds 1-7 at 150.
        for _ in 0..<200 { _ = try trainer.trainStep() }
        let after = try evaluate(model: trainer.model, examples: test)
        print("progression: exact \(before.exactAccuracy) -> \(after.exactAccuracy), hamming by step",
              after.perStep.map { $0.meanHamming })
        #expect(before.exactAccuracy < 0.05)
        #expect(after.exactAccuracy > 0.5)
        let hamming = after.perStep.map(\.meanHamming)
        #expect(hamming.last! < hamming.first!)
        #expect(zip(hamming, hamming.dropFirst()).allSatisfy { $0 >= $1 - 0.02 }, "distance rose between steps: \(hamming)")
    }
}
