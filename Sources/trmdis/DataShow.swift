import ArgumentParser
import TRMDIS

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
    @Option(help: "Task: sudoku, maze or nqueens (default: guessed from the metadata).") var kind: String?

    func run() throws {
        guard split == "train" || split == "test" else { throw ValidationError("--split must be train or test") }
        let s = try PuzzleSplit.load(directory: directory + "/" + split)
        let task = try detectTask(s)
        let m = s.metadata
        print("\(directory)/\(split): \(task); \(s.exampleCount) examples, \(s.puzzleCount) puzzles, \(s.groupCount) groups; seq_len \(m.seqLen), vocab_size \(m.vocabSize)")
        let end = min(s.exampleCount, start + max(0, count))
        guard start < end else { return }
        for i in start..<end {
            let input = Array(s.input(i)), label = Array(s.label(i))
            print("")
            print("example \(i): \(verdict(task, input, label))")
            let left = render(task, input), right = render(task, label)
            let width = left.map(\.count).max() ?? 0
            print(pad("puzzle", width) + "    solution")
            for (a, b) in zip(left, right) { print(pad(a, width) + "    " + b) }
        }
    }

    private func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }

    /// The task from --kind or the metadata: vocabulary 3 is N-Queens; 6 is a maze (or a 4×4 Sudoku,
    /// told apart by walls in the labels); side + 2 is a Sudoku.
    private func detectTask(_ s: PuzzleSplit) throws -> TaskKind {
        let side = Int(Double(s.seqLen).squareRoot().rounded())
        guard side * side == s.seqLen else { throw ValidationError("seq_len \(s.seqLen) is not a square grid") }
        func sudoku() throws -> TaskKind {
            let shape = try SudokuShape(size: side)
            return .sudoku(boxRows: shape.boxRows, boxCols: shape.boxCols)
        }
        switch kind {
        case "sudoku": return try sudoku()
        case "maze": return .maze(size: side)
        case "nqueens", "queens": return .nqueens(size: side)
        case nil: break
        case let other?: throw ValidationError("unknown --kind '\(other)'; use sudoku, maze or nqueens")
        }
        let vocab = s.metadata.vocabSize
        if vocab == QueensToken.vocabSize { return .nqueens(size: side) }
        if vocab == MazeToken.vocabSize && (side != 4 || s.labels.contains(MazeToken.wall)) { return .maze(size: side) }
        if vocab == side + 2 { return try sudoku() }
        throw ValidationError("cannot tell the task from vocab_size \(vocab) and seq_len \(s.seqLen); pass --kind")
    }

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

    private func render(_ task: TaskKind, _ grid: [UInt8]) -> [String] {
        let n = task.side
        var lines: [String] = []
        switch task {
        case .sudoku(let r, let c):
            let symbols = Array("123456789ABCDEFG")
            for row in 0..<n {
                if row > 0 && row % r == 0 {
                    lines.append((0..<(n / c)).map { _ in String(repeating: "-", count: 2 * c) }.joined(separator: "+-"))
                }
                var line = ""
                for col in 0..<n {
                    if col > 0 && col % c == 0 { line += "| " }
                    let t = Int(grid[row * n + col])
                    line += (t >= 2 && t <= n + 1 ? String(symbols[t - 2]) : t == 1 ? "." : "?") + " "
                }
                lines.append(line)
            }
        case .maze:
            for row in 0..<n {
                lines.append(String(grid[row * n ..< (row + 1) * n].map { Int($0) < MazeToken.characters.count ? MazeToken.characters[Int($0)] : "?" }))
            }
        case .nqueens:
            for row in 0..<n {
                lines.append(grid[row * n ..< (row + 1) * n].map { $0 == QueensToken.queen ? "Q" : $0 == QueensToken.empty ? "." : "?" }.joined(separator: " "))
            }
        }
        return lines
    }
}
