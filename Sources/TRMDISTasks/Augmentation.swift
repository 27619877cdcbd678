import TRMDIS
/// One answer-preserving symmetry of a task's grid: a Sudoku relabelling (docs/formats.md: Datasets) or one of the
/// 8 dihedral transforms (docs/data.md: ARC-AGI) for mazes and N-Queens boards. The same value is applied to an
/// input and to its label, at build time (groups of 1 + k versions, as the reference's builders) or on
/// the fly during training.
package enum GridTransform: Equatable, Sendable {
    case sudoku(SudokuShuffle)
    /// Dihedral transform id on a side × side grid (square, so the shape never changes).
    case dihedral(id: Int, side: Int)

    /// A uniformly random symmetry of `task` (for dihedral tasks the identity is one of the 8).
    package static func random(for task: TaskKind, rng: inout RNG) -> GridTransform {
        switch task {
        case .sudoku(let r, let c):
            guard let shape = try? SudokuShape(boxRows: r, boxCols: c) else { preconditionFailure("invalid Sudoku boxes \(r)x\(c)") }
            return .sudoku(SudokuShuffle(shape: shape, rng: &rng))
        case .maze(let n), .nqueens(let n):
            return .dihedral(id: rng.below(Dihedral.count), side: n)
        }
    }

    /// Transforms one grid of tokens.
    package func apply<T: BinaryInteger>(_ grid: [T]) -> [T] {
        switch self {
        case .sudoku(let s): return s.apply(grid)
        case .dihedral(let id, let n): return Dihedral.apply(id, to: grid, rows: n, cols: n)
        }
    }

    /// Transforms one grid of byte tokens into `out` (same count), without allocating.
    package func apply(_ grid: [UInt8], into out: UnsafeMutableBufferPointer<UInt8>) {
        precondition(out.count == grid.count, "output has \(out.count) cells, expected \(grid.count)")
        switch self {
        case .sudoku(let s): s.apply(grid, into: out)
        case .dihedral(let id, let n):
            for i in 0..<n {
                for j in 0..<n { out[i * n + j] = grid[Dihedral.sourceIndex(id, i: i, j: j, rows: n, cols: n)] }
            }
        }
    }

    /// The transform that undoes this one (dihedral only; a Sudoku relabelling is never undone).
    package var inverse: GridTransform? {
        if case .dihedral(let id, let n) = self { return .dihedral(id: Dihedral.inverse[id], side: n) }
        return nil
    }
}

package enum Augmentation {
    /// Applies one random symmetry of `task` to an example in place (input and label alike). Works on
    /// byte tokens as stored and on the trainers' Int32 tokens (an ignore label of −100 moves with its
    /// cell and is never relabelled).
    package static func augment<T: BinaryInteger>(_ task: TaskKind, input: inout [T], label: inout [T], rng: inout RNG) {
        let t = GridTransform.random(for: task, rng: &rng)
        input = t.apply(input)
        label = t.apply(label)
    }

    /// Applies one random symmetry of `task` to example `index` of a trainer's example set, in place.
    package static func augment(_ task: TaskKind, example index: Int, of set: inout ExampleSet, rng: inout RNG) {
        let n = set.seqLen
        let range = index * n ..< (index + 1) * n
        var input = Array(set.inputs[range]), label = Array(set.labels[range])
        augment(task, input: &input, label: &label, rng: &rng)
        set.inputs.replaceSubrange(range, with: input)
        set.labels.replaceSubrange(range, with: label)
    }

    /// `count` build-time versions of one puzzle, not counting the original. Sudoku draws independent
    /// shuffles (not de-duplicated, as the reference); dihedral tasks draw `count` distinct non-identity
    /// transforms (7 gives all 8 versions with the original, the reference Maze builder's `--aug`).
    package static func buildTimeTransforms(_ task: TaskKind, count: Int, rng: inout RNG) -> [GridTransform] {
        switch task {
        case .sudoku(let r, let c):
            guard count > 0 else { return [] }
            guard let shape = try? SudokuShape(boxRows: r, boxCols: c) else { preconditionFailure("invalid Sudoku boxes \(r)x\(c)") }
            return (0..<count).map { _ in GridTransform.sudoku(SudokuShuffle(shape: shape, rng: &rng)) }
        case .maze(let n), .nqueens(let n):
            var ids = Array(1..<Dihedral.count)
            ids.shuffle(using: &rng)
            return ids.prefix(count).sorted().map { GridTransform.dihedral(id: $0, side: n) }
        }
    }
}
