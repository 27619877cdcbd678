import Testing
@testable import TRMDIS
@testable import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// Synthetic examples: random inputs over tokens 1...4 with some cells blanked to 1, labels the full
/// sequence (so input and label differ exactly at the blanks), one shared puzzle id.
func syntheticExamples(count: Int, seqLen: Int, seed: UInt64) -> ExampleSet {
    var rng = RNG(seed: seed)
    var inputs = [Int32](), labels = [Int32]()
    for _ in 0..<count {
        for _ in 0..<seqLen {
            let v = Int32(2 + rng.below(3))
            labels.append(v)
            inputs.append(rng.uniform() < 0.4 ? 1 : v)
        }
    }
    return ExampleSet(seqLen: seqLen, inputs: inputs, labels: labels)
}

func tinyConfig(timeEmbedding: Bool = true, steps: Int = 4) -> ModelConfig {
    ModelConfig(vocabSize: 5, seqLen: 12, puzzleEmbLen: 2, hiddenSize: 16, numHeads: 2, expansion: 2,
                numLayers: 1, hCycles: 1, lCycles: 2, supervisionSteps: steps, timeEmbedding: timeEmbedding)
}

@Suite struct TrainerTests {
    /// docs/model.md: DIS: step s reveals exactly ⌊s·|D|/N⌋ cells of D, nested across steps, with the kernel's
    /// value elsewhere in D and the label outside D; step N_sup is the label.
    @Test(arguments: [TrainingConfig.Corruption.path, .mask, .random]) func corruptionIsNestedAndExact(kind: TrainingConfig.Corruption) throws {
        let c = tinyConfig(steps: 6)
        var tc = TrainingConfig()
        tc.batchSize = 3
        tc.corruption = kind
        tc.maskToken = 0
        let trainer = try Trainer(model: try Model(config: c), examples: syntheticExamples(count: 5, seqLen: 12, seed: 1), config: tc)
        for slot in 0..<3 { trainer.load(example: slot, into: slot) }
        let dis = trainer.dis!
        dis.drawRevealOrders(examples: trainer.sampler.examples, batchExamples: trainer.batchExamples, globalBatch: 3,
                             slice: trainer.slice, rng: &trainer.rng)
        let n = 12
        var previous = [Bool](repeating: false, count: 3 * n)
        for s in 1...6 {
            dis.build(step: s, inputs: trainer.inputs, labels: trainer.labels, examples: trainer.sampler.examples)
            for slot in 0..<3 {
                let d = (0..<n).filter { trainer.inputs[slot * n + $0] != trainer.labels[slot * n + $0] }
                var revealed = 0
                for t in 0..<n {
                    let i = slot * n + t
                    let isRevealed = d.contains(t) && dis.targets[i] == trainer.labels[i]
                        && (kind != .random || dis.revealRank[i] < Int32(s * d.count / 6))
                    if !d.contains(t) { #expect(dis.targets[i] == trainer.labels[i]) }
                    if isRevealed { revealed += 1 }
                    if previous[i] { #expect(isRevealed, "a revealed cell was hidden again") }
                    if d.contains(t) && !isRevealed {
                        switch kind {
                        case .path: #expect(dis.targets[i] == trainer.inputs[i])
                        case .mask: #expect(dis.targets[i] == 0)
                        case .random: #expect((1..<5).contains(dis.targets[i]))
                        case .dataset: Issue.record("not a kernel")  // OfficialDatasetTests covers it
                        }
                    }
                    previous[i] = isRevealed
                }
                #expect(revealed == s * d.count / 6)
            }
        }
    }

    func run(_ trainer: Trainer, steps: Int) throws {
        for _ in 0..<steps { _ = try trainer.trainStep() }
    }

    /// N steps in one go equal N/2, save, load, N/2, bit for bit (DIS and TRM, with EMA and puzzle rows).
    @Test(arguments: TrainingConfig.Method.allCases) func resumeIsExact(method: TrainingConfig.Method) throws {
        let c = tinyConfig(timeEmbedding: method == .dis)
        let examples = syntheticExamples(count: 10, seqLen: 12, seed: 2)
        var tc = TrainingConfig()
        tc.method = method
        tc.batchSize = 4
        tc.learningRate = 1e-3
        tc.warmupSteps = 3
        tc.emaRate = 0.9
        tc.seed = 7
        let straight = try Trainer(model: try Model(config: c, seed: 3), examples: examples, config: tc)
        try run(straight, steps: 6)
        let first = try Trainer(model: try Model(config: c, seed: 3), examples: examples, config: tc)
        try run(first, steps: 3)
        let dir = "/tmp/trmdis-resume-\(getpid())-\(method.rawValue)"
        try first.saveCheckpoint(directory: dir)
        let resumed = try Trainer.resume(directory: dir, examples: examples)
        try run(resumed, steps: 3)
        let n = c.hiddenSize
        #expect(resumed.optimizerSteps == straight.optimizerSteps)
        #expect((0..<straight.model.parameterCount).allSatisfy {
            straight.model.weights[$0].bitPattern == resumed.model.weights[$0].bitPattern })
        #expect((0..<n).allSatisfy { straight.model.puzzleEmbedding[$0].bitPattern == resumed.model.puzzleEmbedding[$0].bitPattern })
        #expect((0..<straight.model.parameterCount).allSatisfy {
            straight.ema!.shadow[$0].bitPattern == resumed.ema!.shadow[$0].bitPattern })
        // The evaluation checkpoint holds the EMA weights.
        let saved = try Model.load(from: dir + "/" + Trainer.modelFile)
        #expect((0..<first.model.parameterCount).allSatisfy { saved.weights[$0] == first.ema!.shadow[$0] })
    }

    @Test func trmTrainerHaltsAndReports() throws {
        let c = tinyConfig(timeEmbedding: false)
        var tc = TrainingConfig()
        tc.method = .trm
        tc.batchSize = 4
        tc.learningRate = 1e-3
        tc.warmupSteps = 1
        let trainer = try Trainer(model: try Model(config: c), examples: syntheticExamples(count: 8, seqLen: 12, seed: 4), config: tc)
        var finished = 0
        for _ in 0..<8 {
            let m = try trainer.trainStep()
            #expect(m.loss.isFinite && m.loss > 0)
            finished += m.finished
            if let steps = m.meanSteps { #expect(steps >= 1 && steps <= 4) }
        }
        // With q_halt starting at −5 every slot runs N_sup = 4 steps: 8 steps × 4 slots / 4.
        #expect(finished == 8)
    }

    /// DIS never reaches q_head, so like the official code it takes no step and no weight decay there;
    /// the TRM baseline trains it.
    @Test(arguments: TrainingConfig.Method.allCases) func qHeadMovesOnlyWithAHaltingLoss(method: TrainingConfig.Method) throws {
        let c = tinyConfig(timeEmbedding: method == .dis)
        var tc = TrainingConfig()
        tc.method = method
        tc.batchSize = 4
        tc.learningRate = 1e-2
        tc.warmupSteps = 1
        tc.weightDecay = 1
        let trainer = try Trainer(model: try Model(config: c, seed: 5), examples: syntheticExamples(count: 8, seqLen: 12, seed: 6), config: tc)
        _ = try trainer.trainStep()
        let bias = try #require(trainer.model.tensor("q_head.bias"))
        if method == .dis { #expect(Array(bias) == [-5, -5]) } else { #expect(bias[0] != -5) }
    }
}
