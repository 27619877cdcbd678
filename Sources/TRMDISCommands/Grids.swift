import ArgumentParser
import TRMDIS
import TRMDISTasks

/// The task from --kind or the metadata: vocabulary 3 is N-Queens; 6 is a maze (or a 4×4 Sudoku,
/// told apart by walls in the labels); side + 2 is a Sudoku.
func guessTask(_ s: PuzzleSplit, kind: String?) throws -> TaskKind {
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


/// The grid as terminal lines: digits for Sudoku (with box rules), the maze characters, . and Q for queens.
func renderGrid(_ task: TaskKind, _ grid: [UInt8]) -> [String] {
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
            lines.append(String(line.dropLast()))
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
