import Testing
@testable import TRMDIS
@testable import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// Inference repeats the protocol the model was trained with (docs/model.md: The inference protocol):
/// each test compares the default prediction with a Runner loop written out by hand, and checks that the
/// other protocol would have given something else, so the comparison can fail. Traces hold each step's
/// prediction and logits, compared bit for bit.
@Suite struct InferenceProtocolTests {
    let count = 6, n = 12

    struct Step: Equatable {
        var predictions: [Int32]
        var logits: [Float]
    }

    /// Every step of a hand-written loop: the time row of step s is `row(s)`, and with `feedback` each
    /// step's argmax replaces the input.
    func handLoop(_ model: Model, _ examples: ExampleSet, steps: Int, feedback: Bool, row: (Int) -> Int) throws -> [Step] {
        let c = model.config
        let runner = try Runner(model: model, batchSize: count)
        for i in 0..<count * n { runner.tokens[i] = examples.inputs[i] }
        for b in 0..<count { runner.puzzleIds[b] = examples.puzzleIds[b] }
        runner.resetCarry()
        var trace: [Step] = []
        let predictions = UnsafeMutablePointer<Int32>.allocate(capacity: count * n)
        defer { predictions.deallocate() }
        // On the packed weights as `Predictor` runs a small batch (its products' rounding is KernelTests' matter).
        try runner.withPackedWeights { () throws(TRMError) in
            for s in 1...steps {
                runner.timeStep = row(s)
                try runner.forward(requiresGrad: false)
                Predictions.argmax(runner.logits, cells: count * n, vocab: c.vocabSize, into: predictions)
                trace.append(Step(predictions: Array(UnsafeBufferPointer(start: predictions, count: count * n)),
                                  logits: Array(UnsafeBufferPointer(start: runner.logits, count: count * n * c.vocabSize))))
                if feedback { runner.tokens.update(from: predictions, count: count * n) }
            }
        }
        return trace
    }

    /// Every step of `Predictor` with `options`.
    func predicted(_ model: Model, _ examples: ExampleSet, _ options: InferenceOptions = InferenceOptions()) throws -> [Step] {
        let predictor = try Predictor(model: model, batchSize: count)
        let cells = count * n * model.config.vocabSize
        var trace: [Step] = []
        try examples.inputs.withUnsafeBufferPointer { (x) throws(TRMError) in
            try examples.puzzleIds.withUnsafeBufferPointer { (ids) throws(TRMError) in
                try predictor.run(inputs: x.baseAddress!, puzzleIds: ids.baseAddress!, count: count, options: options) { r in
                    trace.append(Step(predictions: Array(UnsafeBufferPointer(start: r.predictions, count: count * n)),
                                      logits: Array(UnsafeBufferPointer(start: r.logits, count: cells))))
                }
            }
        }
        return trace
    }

    /// Trains `steps` trainer steps, so that the weights move away from their init.
    func trained(_ config: ModelConfig, _ training: TrainingConfig, steps: Int) throws -> (Model, ExampleSet) {
        let examples = syntheticExamples(count: 32, seqLen: n, seed: 3)
        var t = training
        t.batchSize = 8
        t.learningRate = 3e-3
        t.warmupSteps = 0
        let model = try Model(config: config, seed: 5)
        let trainer = try Trainer(model: model, examples: examples, config: t)
        for _ in 0..<steps { _ = try trainer.trainStep() }
        return (model, examples)
    }

    /// A model round-tripped through its file, as eval and solve see it.
    func reloaded(_ model: Model) throws -> Model {
        let path = dataTempDirectory("protocol") + "/model.safetensors"  // tests run in parallel: one file each
        defer { unlink(path) }
        try model.save(to: path)
        return try Model.load(from: path)
    }

    @Test func trmModelKeepsTheInputAndTimeRowOne() throws {
        // A TRM-ACT model on a configuration with a step-time table (what `--preset nqueens --method trm`
        // built before): training only ever used row 1 and the puzzle as the input.
        let (model, examples) = try trained(tinyConfig(timeEmbedding: true, steps: 4), TrainingConfig(method: .trm), steps: 12)
        let loaded = try reloaded(model)
        #expect(loaded.trainingRecord == TrainingRecord(method: .trm, feedbackPredictions: false, timeRows: .first, supervisionSteps: 4))
        let expected = try handLoop(loaded, examples, steps: 4, feedback: false) { _ in 1 }
        #expect(try predicted(loaded, examples) == expected)
        let asDIS = try handLoop(loaded, examples, steps: 4, feedback: true) { $0 }
        #expect(asDIS != expected, "the test cannot tell the protocols apart")
        // evaluate() follows the same protocol: its last-step accuracy is the hand loop's.
        let report = try evaluate(model: loaded, examples: ExampleSet(seqLen: n, inputs: Array(examples.inputs[0..<count * n]),
                                                                     labels: Array(examples.labels[0..<count * n]),
                                                                     puzzleIds: Array(examples.puzzleIds[0..<count])))
        var exact = 0
        for e in 0..<count where (0..<n).allSatisfy({ expected[3].predictions[e * n + $0] == examples.labels[e * n + $0] }) { exact += 1 }
        #expect(report.exactAccuracy == Double(exact) / Double(count))
    }

    @Test func disTrainedWithoutFeedbackIsEvaluatedWithout() throws {
        var t = TrainingConfig(method: .dis)
        t.feedbackPredictions = false
        let (model, examples) = try trained(tinyConfig(timeEmbedding: true, steps: 4), t, steps: 4)
        let loaded = try reloaded(model)
        #expect(loaded.inferenceProtocol.feedbackPredictions == false)
        let expected = try handLoop(loaded, examples, steps: 4, feedback: false) { $0 }
        #expect(try predicted(loaded, examples) == expected)
        #expect(try handLoop(loaded, examples, steps: 4, feedback: true) { $0 } != expected,
                "the test cannot tell the protocols apart")
    }

    @Test func stepsPastNSupReuseRowNSup() throws {
        let (model, examples) = try trained(tinyConfig(timeEmbedding: true, steps: 3), TrainingConfig(method: .dis), steps: 3)
        let expected = try handLoop(model, examples, steps: 6, feedback: true) { min($0, 3) }
        #expect(try predicted(model, examples, InferenceOptions(steps: 6)) == expected)
        // Row N_sup+1 was never trained: using it would change the prediction.
        #expect(try handLoop(model, examples, steps: 6, feedback: true) { min($0, 4) } != expected,
                "the test cannot tell the rows apart")
    }

    @Test func overridesReplaceTheRecordedProtocol() throws {
        let (model, examples) = try trained(tinyConfig(timeEmbedding: true, steps: 4), TrainingConfig(method: .trm), steps: 4)
        let expected = try handLoop(model, examples, steps: 4, feedback: true) { $0 }
        #expect(try predicted(model, examples, InferenceOptions(feedbackPredictions: true, timeRows: .perStep)) == expected)
    }

    @Test func filesWithoutARecordFollowTheDocumentedRule() throws {
        let dis = try reloaded(try Model(config: tinyConfig(timeEmbedding: true), seed: 1))
        #expect(dis.trainingRecord == nil)
        #expect(dis.inferenceProtocol == TrainingRecord(method: .dis, feedbackPredictions: true, timeRows: .perStep, supervisionSteps: 4))
        let trm = try reloaded(try Model(config: tinyConfig(timeEmbedding: false), seed: 1))
        #expect(trm.inferenceProtocol == TrainingRecord(method: .trm, feedbackPredictions: false, timeRows: .first, supervisionSteps: 4))
    }

    @Test func methodDefaultsHaveOneSource() throws {
        #expect(Preset.nqueens.config.forMethod(.trm).timeEmbedding == false)
        #expect(Preset.sudokuAtt.config.forMethod(.dis).timeEmbedding == true)
        #expect(TrainingConfig(method: .trm).emaRate == 0.999)
        #expect(TrainingConfig(method: .dis).emaRate == nil)
    }
}
