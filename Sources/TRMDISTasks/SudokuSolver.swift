import TRMDIS
/// How much search a puzzle needed: the difficulty measure used to build hard sets.
///
/// `guesses` counts the placements made at cells that still had two or more candidates, over the
/// whole search tree that proves the solution unique (the solver keeps looking for a second solution,
/// so the tree is explored to the end and the count does not depend on luck). A puzzle solved by
/// naked singles alone needs 0 guesses; Sudoku-Extreme-like puzzles need dozens to thousands.
package struct SudokuEffort: Equatable, Sendable {
    /// Every digit placed during the search.
    package var nodes = 0
    /// Placements at cells with ≥ 2 candidates.
    package var guesses = 0
}

/// A bitmask backtracking solver: each row, column and box keeps a mask of its used digits, and the
/// search always fills the empty cell with the fewest candidates (so forced cells cost no guesses).
/// It counts solutions up to a limit, which is what generation needs (is the solution unique?), and
/// measures the effort of that search.
package struct SudokuSolver: Sendable {
    package let shape: SudokuShape

    package init(shape: SudokuShape) { self.shape = shape }

    package struct Result: Sendable {
        /// Solutions found, at most the limit.
        package var count: Int
        /// The first solution found (digits, row-major).
        package var solution: [UInt8]?
        package var effort: SudokuEffort
    }

    /// Solves a grid of digits (0 = blank), counting up to `limit` solutions.
    package func solve(digits: [UInt8], limit: Int = 2) -> Result {
        var s = Search(shape: shape, digits: digits, limit: limit)
        if s.consistent { _ = s.run(s.emptyCount, rng: nil) }
        return Result(count: s.count, solution: s.solution, effort: s.effort)
    }

    /// Solves a grid of tokens (1 = blank, 2… = digits), counting up to `limit` solutions.
    package func solve(tokens: some Collection<UInt8>, limit: Int = 2) -> Result {
        solve(digits: tokens.map { $0 >= 1 ? $0 - 1 : 0 }, limit: limit)
    }

    /// Whether the grid has a solution in which `cell` is not `digit`: removing that clue from a puzzle
    /// whose unique solution has `digit` there keeps the solution unique exactly when this is false.
    package func hasSolution(digits: [UInt8], avoiding digit: UInt8, at cell: Int) -> Bool {
        var s = Search(shape: shape, digits: digits, limit: 1)
        s.forbidden[cell] = 1 << UInt32(digit - 1)
        if s.consistent { _ = s.run(s.emptyCount, rng: nil) }
        return s.count > 0
    }

    /// A uniformly shuffled search from the empty grid: a random complete grid.
    package func randomGrid(rng: inout RNG) -> [UInt8] {
        var s = Search(shape: shape, digits: [UInt8](repeating: 0, count: shape.cellCount), limit: 1)
        withUnsafeMutablePointer(to: &rng) { p in _ = s.run(s.emptyCount, rng: p) }
        return s.solution!
    }
}

/// The search state: digits, the used-digit masks and the list of empty cells (the first `k` entries
/// of `empties` are still empty; a placement swaps its cell to position k−1).
private struct Search {
    let n: Int
    let all: UInt32
    let rowOf: [Int], colOf: [Int], boxOf: [Int]
    var grid: [UInt8]
    var rows: [UInt32], cols: [UInt32], boxes: [UInt32]
    var forbidden: [UInt32]
    var empties: [Int]
    var consistent = true
    let limit: Int
    var count = 0
    var solution: [UInt8]?
    var effort = SudokuEffort()

    var emptyCount: Int { empties.count }

    init(shape: SudokuShape, digits: [UInt8], limit: Int) {
        n = shape.size
        all = shape.allDigits
        rowOf = shape.rowOf
        colOf = shape.colOf
        boxOf = shape.boxOf
        grid = digits
        rows = [UInt32](repeating: 0, count: n)
        cols = rows
        boxes = rows
        forbidden = [UInt32](repeating: 0, count: digits.count)
        empties = []
        self.limit = limit
        for cell in 0..<digits.count {
            let d = digits[cell]
            if d == 0 { empties.append(cell); continue }
            if Int(d) > n { consistent = false; continue }
            let bit = UInt32(1) << UInt32(d - 1)
            if (rows[rowOf[cell]] | cols[colOf[cell]] | boxes[boxOf[cell]]) & bit != 0 { consistent = false }
            rows[rowOf[cell]] |= bit
            cols[colOf[cell]] |= bit
            boxes[boxOf[cell]] |= bit
        }
    }

    /// Returns true when the search should stop (the limit is reached).
    mutating func run(_ k: Int, rng: UnsafeMutablePointer<RNG>?) -> Bool {
        if k == 0 {
            count += 1
            if solution == nil { solution = grid }
            return count >= limit
        }
        // Minimum remaining values: the empty cell with the fewest candidates.
        var bestIndex = -1, bestCount = Int.max
        var bestMask: UInt32 = 0
        for idx in 0..<k {
            let cell = empties[idx]
            let mask = all & ~(rows[rowOf[cell]] | cols[colOf[cell]] | boxes[boxOf[cell]] | forbidden[cell])
            let c = mask.nonzeroBitCount
            if c < bestCount {
                bestCount = c; bestIndex = idx; bestMask = mask
                if c <= 1 { break }
            }
        }
        if bestCount == 0 { return false }
        let cell = empties[bestIndex]
        empties.swapAt(bestIndex, k - 1)
        defer { empties.swapAt(bestIndex, k - 1) }
        let r = rowOf[cell], c = colOf[cell], b = boxOf[cell]
        let branching = bestCount > 1

        var order: [UInt32] = []
        if let rng, branching {
            var m = bestMask
            while m != 0 { order.append(m & (~m &+ 1)); m &= m - 1 }
            order.shuffle(using: &rng.pointee)
        }
        var remaining = bestMask
        var i = 0
        while remaining != 0 {
            let bit: UInt32
            if order.isEmpty { bit = remaining & (~remaining &+ 1) } else { bit = order[i]; i += 1 }
            remaining &= ~bit
            effort.nodes += 1
            if branching { effort.guesses += 1 }
            grid[cell] = UInt8(bit.trailingZeroBitCount + 1)
            rows[r] |= bit; cols[c] |= bit; boxes[b] |= bit
            let stop = run(k - 1, rng: rng)
            rows[r] &= ~bit; cols[c] &= ~bit; boxes[b] &= ~bit
            grid[cell] = 0
            if stop { return true }
        }
        return false
    }
}
