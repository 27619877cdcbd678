import TRMDIS
/// N-Queens tokens (docs/model.md: DIS): PAD 0, empty 1, queen 2; vocabulary 3.
package enum QueensToken {
    package static let pad: UInt8 = 0
    package static let empty: UInt8 = 1
    package static let queen: UInt8 = 2
    package static let vocabSize = 3
}

/// How many queens are given. DIS's generator draws k uniformly from 0…7 on the 8×8 board; "lower k is
/// harder" (fewer constraints, more completions, and an exact-match metric that must guess the one).
package struct QueensOptions: Equatable, Sendable {
    /// Given-queen counts to draw from uniformly (nil: 0…min(7, N−1), DIS's range on 8×8).
    package var givens: ClosedRange<Int>?

    package init(givens: ClosedRange<Int>? = nil) { self.givens = givens }
}

/// One N-Queens puzzle: a board with k queens of a full solution, and that solution.
package struct QueensPuzzle: Equatable, Sendable {
    package var input: [UInt8]
    package var label: [UInt8]
    package var givens: Int
}

/// Seeded N-Queens generation: every solution of the N×N board is enumerated once (14,200 for N = 12),
/// so a puzzle is a uniform draw of a solution and of k of its queens.
package struct QueensGenerator: Sendable {
    package let size: Int
    package let givens: ClosedRange<Int>
    /// All solutions, each as the queen's column in every row.
    package let solutions: [[Int]]

    package init(size: Int, options: QueensOptions = QueensOptions()) throws(TRMError) {
        guard size >= 4 && size <= 12 else { throw .invalidArgument("N-Queens board side must be in 4...12 (got \(size))") }
        let range = options.givens ?? 0...min(7, size - 1)
        guard range.lowerBound >= 0 && range.upperBound <= size else {
            throw .invalidArgument("given queens must be in 0...\(size) (got \(range))")
        }
        self.size = size
        givens = range
        solutions = QueensGenerator.allSolutions(size: size)
    }

    /// Every placement of N non-attacking queens, in lexicographic order of the column lists.
    package static func allSolutions(size n: Int) -> [[Int]] {
        var out: [[Int]] = []
        var cols = [Int](repeating: 0, count: n)
        func place(_ row: Int, _ used: UInt32, _ diag: UInt32, _ anti: UInt32) {
            if row == n { out.append(cols); return }
            var free = ~(used | diag | anti) & UInt32((1 << n) - 1)
            while free != 0 {
                let bit = free & (~free &+ 1)
                free &= free - 1
                cols[row] = bit.trailingZeroBitCount
                place(row + 1, used | bit, (diag | bit) << 1, (anti | bit) >> 1)
            }
        }
        place(0, 0, 0, 0)
        return out
    }

    /// A solution as a board of tokens.
    package func board(_ columns: [Int], rows keep: Set<Int>? = nil) -> [UInt8] {
        var b = [UInt8](repeating: QueensToken.empty, count: size * size)
        for (r, c) in columns.enumerated() where keep == nil || keep!.contains(r) { b[r * size + c] = QueensToken.queen }
        return b
    }

    /// One puzzle (never rejected).
    package func attempt(rng: inout RNG) -> QueensPuzzle? {
        let solution = solutions[rng.below(solutions.count)]
        let k = givens.lowerBound + rng.below(givens.count)
        var rows = Array(0..<size)
        rows.shuffle(using: &rng)
        let input = board(solution, rows: Set(rows.prefix(k)))
        return QueensPuzzle(input: input, label: board(solution), givens: k)
    }
}
