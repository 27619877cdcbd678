// The Swift example: train a small DIS model on 4x4 Sudoku, save it, load it back, and watch it solve an
// unseen puzzle step by step. Run with `swift run -c release swift-example`.
import TRMDIS
import TRMDISTasks

// 1. Data: 4x4 Sudokus with unique solutions; the test split never appears in training.
let dataset = try buildDataset(task: .sudoku(boxRows: 2, boxCols: 2), trainCount: 2000, testCount: 200, seed: 1)
let train = dataset.train.exampleSet(), test = dataset.test.exampleSet()

// 2. A small DIS network: T 1, n 2, 4 supervision steps (12 network calls per puzzle).
var config = Preset.sudokuAtt.config
config.vocabSize = dataset.train.metadata.vocabSize
config.seqLen = dataset.train.metadata.seqLen
config.hiddenSize = 64
config.puzzleEmbDim = 64
config.numHeads = 4
config.numLayers = 1
config.hCycles = 1
config.lCycles = 2
config.supervisionSteps = 4
config = config.forMethod(.dis)  // the step-time embedding DIS trains
let model = try Model(config: config, seed: 1)

var training = TrainingConfig(method: .dis)
training.batchSize = 64
training.learningRate = 3e-3
training.warmupSteps = 50
let trainer = try Trainer(model: model, examples: train, config: training)
for step in 1...300 {
    let m = try trainer.trainStep()
    if step % 50 == 0 { print("step \(step): loss \(m.loss), exact \(m.exactAccuracy)") }
}

// 3. Save, load, evaluate on unseen puzzles. The file records how the model was trained, so inference
// repeats that protocol (feedback, step-time rows) by default.
try model.save(to: "/tmp/sudoku4-dis.safetensors")
let loaded = try Model.load(from: "/tmp/sudoku4-dis.safetensors")
let report = try evaluate(model: loaded, examples: test)
print("test exact accuracy \(report.exactAccuracy); cells wrong after each step:", report.perStep.map(\.meanHamming))

// 4. One puzzle, step by step.
let predictor = try Predictor(model: loaded, batchSize: 1)
let n = test.seqLen
print("puzzle:", test.inputs[0..<n].map { $0 == 1 ? "." : String($0 - 1) }.joined())
try test.inputs.withUnsafeBufferPointer { inputs in
    try predictor.run(inputs: inputs.baseAddress!, puzzleIds: nil, count: 1,
                      options: InferenceOptions()) { step in
        print("step \(step.step):", (0..<n).map { String(step.predictions[$0] - 1) }.joined())
    }
}
print("answer:", test.labels[0..<n].map { String($0 - 1) }.joined())
