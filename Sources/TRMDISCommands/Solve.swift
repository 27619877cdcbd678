import ArgumentParser
import TRMDIS
import TRMDISTasks

/// `trmdis solve`: prints one puzzle being improved step by step: the prediction after every supervision
/// step beside the answer, with the number of cells still wrong.
struct Solve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a checkpoint solving a puzzle step by step.")
    @Option(parsing: .unconditional, help: "Model checkpoint (.safetensors).") var checkpoint: String
    @Option(parsing: .unconditional, help: "Dataset directory.") var data: String
    @Option(parsing: .unconditional, help: "Split.") var split = "test"
    @Option(parsing: .unconditional, help: "Example index.") var index = 0
    @Option(parsing: .unconditional, help: "Task: sudoku, maze or nqueens (default: guessed from the metadata).") var kind: String?
    @Option(parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?
    @OptionGroup var inference: InferenceFlags
    @Flag(help: "Print the puzzle, answer and every step's prediction as one JSON object.") var json = false

    private struct Frame: Encodable { var step: Int; var prediction: [UInt8]; var wrongCells: Int }
    private struct Output: Encodable { var index: Int; var puzzle: [UInt8]; var answer: [UInt8]; var steps: [Frame] }

    func run() throws {
        if let threads { try Threads.set(threads) }
        let model = try Model.load(from: checkpoint)
        let s = try loadSplit(directory: data, split: split)
        guard (0..<s.examples.count).contains(index) else { throw ValidationError("--index must be in [0, \(s.examples.count))") }
        let task = try guessTask(s.split, kind: kind)
        let n = s.examples.seqLen
        let input = Array(s.split.input(index)), label = Array(s.split.label(index))
        let predictor = try Predictor(model: model, batchSize: 1)
        var frames: [(Int, [UInt8], Int)] = []
        try s.examples.inputs.withUnsafeBufferPointer { (x) throws(TRMError) in
            try predictor.run(inputs: x.baseAddress! + index * n, puzzleIds: [s.examples.puzzleIds[index]], count: 1,
                              options: inference.options) { step in
                let grid = (0..<n).map { UInt8(clamping: step.predictions[$0]) }
                let wrong = (0..<n).filter { s.examples.labels[index * n + $0] != Losses.ignoreLabel && Int32(grid[$0]) != s.examples.labels[index * n + $0] }.count
                frames.append((step.step, grid, wrong))
            }
        }
        if json {
            print(jsonText(Output(index: index, puzzle: input, answer: label,
                                  steps: frames.map { Frame(step: $0.0, prediction: $0.1, wrongCells: $0.2) })))
            return
        }
        print(inference.protocolLine(model))
        print("\(task), example \(index) of \(data)/\(split); \(model.config.netCallsPerStep) net calls per step")
        show(["puzzle", "answer"], [renderGrid(task, input), renderGrid(task, label)])
        for chunk in stride(from: 0, to: frames.count, by: 4) {
            let group = frames[chunk..<min(frames.count, chunk + 4)]
            show(group.map { "step \($0.0): \($0.2) wrong" }, group.map { renderGrid(task, $0.1) })
        }
    }

    /// Prints grids side by side under their titles.
    private func show(_ titles: [String], _ grids: [[String]]) {
        let width = max(grids.flatMap { $0 }.map(\.count).max() ?? 0, titles.map(\.count).max() ?? 0) + 4
        func pad(_ s: String) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
        print("")
        print(titles.map(pad).joined())
        for row in 0..<(grids.map(\.count).max() ?? 0) {
            print(grids.map { pad(row < $0.count ? $0[row] : "") }.joined())
        }
    }
}
