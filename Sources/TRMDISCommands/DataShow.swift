import ArgumentParser
import TRMDIS
import TRMDISTasks

/// `trmdis data show DIR`: prints puzzles next to their labels as grids, with the checker's verdict on
/// each label, so a dataset (ours or one from the official builders) can be inspected by eye.
struct DataShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a dataset's puzzles and solutions as grids.")
    @Argument(help: "Dataset directory.") var directory: String
    @Option(help: "Split: train or test.") var split = "test"
    @Option(help: "Examples to print.") var count = 3
    @Option(help: "First example.") var start = 0
    @Option(help: "Task: sudoku, maze, nqueens or arc (default: guessed from the metadata).") var kind: String?

    func run() throws {
        guard split == "train" || split == "test" else { throw ValidationError("--split must be train or test") }
        let s = try PuzzleSplit.load(directory: directory + "/" + split)
        if kind == "arc" || (kind == nil && s.metadata.vocabSize == ARCEncoding.vocabSize && s.seqLen == ARCEncoding.seqLen) {
            return try showARC(s, directory: directory, split: split, start: start, count: count)
        }
        let task = try guessTask(s, kind: kind)
        let m = s.metadata
        print("\(directory)/\(split): \(task); \(s.exampleCount) examples, \(s.puzzleCount) puzzles, \(s.groupCount) groups; seq_len \(m.seqLen), vocab_size \(m.vocabSize)")
        let end = min(s.exampleCount, start + max(0, count))
        guard start < end else { return }
        for i in start..<end {
            let input = Array(s.input(i)), label = Array(s.label(i))
            print("")
            print("example \(i): \(verdict(task, input, label))")
            let left = renderGrid(task, input), right = renderGrid(task, label)
            let width = left.map(\.count).max() ?? 0
            print(pad("puzzle", width) + "    solution")
            for (a, b) in zip(left, right) { print(pad(a, width) + "    " + b) }
        }
    }

    private func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }

    private func verdict(_ task: TaskKind, _ input: [UInt8], _ label: [UInt8]) -> String {
        switch task {
        case .sudoku(let r, let c):
            guard let shape = try? SudokuShape(boxRows: r, boxCols: c) else { return "" }
            let check = SudokuChecker.check(puzzle: input, prediction: label, shape: shape)
            let clues = input.filter { $0 >= 2 }.count
            let effort = SudokuSolver(shape: shape).solve(tokens: input)
            let unique = effort.count == 1 ? "unique solution" : effort.count == 0 ? "no solution" : "several solutions"
            return "\(clues) clues, \(unique), \(effort.effort.guesses) solver guesses; label \(check.solved ? "solves it" : "does NOT solve it")"
        case .maze(let n):
            let check = MazeChecker.check(input: input, prediction: label, size: n)
            return "path \(check.pathLength.map(String.init) ?? "none") steps (shortest \(check.shortestLength.map(String.init) ?? "none")); label \(check.solved ? "is a shortest path" : "is NOT a shortest path")"
        case .nqueens(let n):
            let check = QueensChecker.check(input: input, prediction: label, label: label, size: n)
            let given = input.filter { $0 == QueensToken.queen }.count
            return "\(given) given queens; label \(check.validCompletion ? "is a valid completion" : "is NOT a valid completion")"
        }
    }
}
