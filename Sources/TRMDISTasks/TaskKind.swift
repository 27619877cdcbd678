import TRMDIS
/// The puzzle families this engine can generate, with what a model needs to know about each: grid
/// shape, vocabulary and the symmetries that keep a puzzle's answer an answer.
package enum TaskKind: Hashable, Sendable, CustomStringConvertible {
    /// Sudoku with boxRows × boxCols boxes (2×2, 2×3 and 3×3 give 4×4, 6×6 and 9×9 grids).
    case sudoku(boxRows: Int, boxCols: Int)
    /// A size × size maze (Maze-Hard is 30).
    case maze(size: Int)
    /// N-Queens on a size × size board with some queens given (DIS uses 8).
    case nqueens(size: Int)

    /// Grid side.
    package var side: Int {
        switch self {
        case .sudoku(let r, let c): return r * c
        case .maze(let n), .nqueens(let n): return n
        }
    }

    package var seqLen: Int { side * side }

    package var vocabSize: Int {
        switch self {
        case .sudoku(let r, let c): return r * c + 2
        case .maze: return MazeToken.vocabSize
        case .nqueens: return QueensToken.vocabSize
        }
    }

    /// The largest number of distinct build-time augmentations of one puzzle (dihedral tasks: the 7
    /// non-identity transforms; Sudoku: effectively unbounded, and like the reference not de-duplicated).
    package var maxAugmentations: Int {
        switch self {
        case .sudoku: return Int.max
        case .maze, .nqueens: return Dihedral.count - 1
        }
    }

    package var description: String {
        switch self {
        case .sudoku(let r, let c): return "sudoku \(r * c)x\(r * c) (boxes \(r)x\(c))"
        case .maze(let n): return "maze \(n)x\(n)"
        case .nqueens(let n): return "nqueens \(n)x\(n)"
        }
    }
}

/// The checker of a generated task: a valid Sudoku keeping the clues, a shortest maze path, a valid
/// N-Queens completion keeping the given queens.
package func solutionChecker(for task: TaskKind) -> SolutionChecker? {
    switch task {
    case .sudoku(let r, let c):
        guard let shape = try? SudokuShape(boxRows: r, boxCols: c) else { return nil }
        return { SudokuChecker.check(puzzle: $0, prediction: $1, shape: shape).solved }
    case .maze(let n):
        return { MazeChecker.check(input: $0, prediction: $1, size: n).solved }
    case .nqueens(let n):
        return { QueensChecker.check(input: $0, prediction: $1, label: $1, size: n).validCompletion }
    }
}
