import TRMDIS
/// Filters that set a Sudoku set's difficulty.
///
/// Clues are removed from a random complete grid, in random order, while the solution stays unique,
/// down to `minClues` (or until no clue can go); a puzzle left with more than `maxClues` is rejected.
/// Clue counts alone say little about difficulty, so `minEffort`/`maxEffort` filter on the solver's
/// guess count (`SudokuEffort.guesses`): `minEffort` ≥ 20 on 9×9 gives Sudoku-Extreme-like puzzles that
/// need real search, while `minClues` ≈ 40 with `maxEffort` 0 gives easy ones.
package struct SudokuOptions: Equatable, Sendable {
    /// Stop removing clues at this many (nil: remove while the solution stays unique).
    package var minClues: Int?
    /// Reject puzzles with more clues than this (nil: no limit).
    package var maxClues: Int?
    /// Reject puzzles needing fewer guesses than this.
    package var minEffort: Int
    /// Reject puzzles needing more guesses than this (nil: no limit).
    package var maxEffort: Int?
    /// Draw each puzzle's clue floor uniformly in minClues...maxClues, so clue counts spread over the
    /// range instead of piling up at minClues (e.g. "10-20 clues").
    package var spreadClues: Bool

    package init(minClues: Int? = nil, maxClues: Int? = nil, minEffort: Int = 0, maxEffort: Int? = nil,
                spreadClues: Bool = false) {
        self.minClues = minClues
        self.maxClues = maxClues
        self.minEffort = minEffort
        self.maxEffort = maxEffort
        self.spreadClues = spreadClues
    }
}

/// One generated Sudoku as digits (0 = blank), with its solution and measured difficulty.
package struct SudokuPuzzle: Equatable, Sendable {
    package var puzzle: [UInt8]
    package var solution: [UInt8]
    package var clues: Int
    package var effort: SudokuEffort
}

/// Seeded Sudoku generation: a random complete grid, then clue removal that keeps the solution unique.
package struct SudokuGenerator: Sendable {
    package let shape: SudokuShape
    package let options: SudokuOptions
    let solver: SudokuSolver

    package init(shape: SudokuShape, options: SudokuOptions = SudokuOptions()) throws(TRMError) {
        let cells = shape.cellCount
        if let lo = options.minClues, lo < 0 || lo > cells {
            throw .invalidArgument("minClues must be in 0...\(cells) (got \(lo))")
        }
        if let hi = options.maxClues, hi < (options.minClues ?? 0) {
            throw .invalidArgument("maxClues (\(hi)) is below minClues (\(options.minClues ?? 0))")
        }
        if let hi = options.maxEffort, hi < options.minEffort {
            throw .invalidArgument("maxEffort (\(hi)) is below minEffort (\(options.minEffort))")
        }
        self.shape = shape
        self.options = options
        solver = SudokuSolver(shape: shape)
    }

    /// Hill-climbing steps per attempt when a puzzle is easier than `minEffort`.
    static let climbSteps = 200

    /// Removes clues in `order` while the solution stays unique, down to `floor` clues.
    private func minimize(_ puzzle: inout [UInt8], clues: inout Int, floor: Int, order: [Int],
                          checker: inout SudokuPropagator) {
        for cell in order where puzzle[cell] != 0 {
            if clues <= floor { break }
            let d = puzzle[cell]
            puzzle[cell] = 0
            if checker.countSolutions(puzzle, limit: 1, avoiding: (cell, d)) > 0 {
                puzzle[cell] = d
            } else {
                clues -= 1
            }
        }
    }

    /// One attempt: a puzzle that passes the filters, or nil (the caller retries with the same RNG).
    package func attempt(rng: inout RNG) -> SudokuPuzzle? {
        let solution = solver.randomGrid(rng: &rng)
        var puzzle = solution
        var clues = shape.cellCount
        var floor = options.minClues ?? 0
        if options.spreadClues, let hi = options.maxClues { floor += rng.below(hi - floor + 1) }
        var checker = SudokuPropagator(shape: shape)
        var order = Array(0..<shape.cellCount)
        order.shuffle(using: &rng)
        minimize(&puzzle, clues: &clues, floor: floor, order: order, checker: &checker)
        if let hi = options.maxClues, clues > hi { return nil }
        var effort = solver.solve(digits: puzzle).effort
        // Too easy: climb. Swap one clue for two others from the solution, re-minimise, and keep the
        // result when it needs at least as much search. This roughly halves the time to reach the
        // rarest levels (≥ 1000 guesses on 9×9) and costs nothing measurable at common ones.
        var step = 0
        while effort.guesses < options.minEffort && step < Self.climbSteps {
            step += 1
            let clueCells = (0..<shape.cellCount).filter { puzzle[$0] != 0 }
            let blankCells = (0..<shape.cellCount).filter { puzzle[$0] == 0 }
            guard !clueCells.isEmpty, blankCells.count >= 2 else { break }
            var candidate = puzzle
            candidate[clueCells[rng.below(clueCells.count)]] = 0
            for _ in 0..<2 {
                let cell = blankCells[rng.below(blankCells.count)]
                candidate[cell] = solution[cell]
            }
            guard checker.countSolutions(candidate, limit: 2) == 1 else { continue }
            var candidateClues = candidate.filter { $0 != 0 }.count
            order.shuffle(using: &rng)
            minimize(&candidate, clues: &candidateClues, floor: floor, order: order, checker: &checker)
            if let hi = options.maxClues, candidateClues > hi { continue }
            let e = solver.solve(digits: candidate).effort
            if e.guesses >= effort.guesses {
                (puzzle, clues, effort) = (candidate, candidateClues, e)
            }
        }
        if effort.guesses < options.minEffort { return nil }
        if let hi = options.maxEffort, effort.guesses > hi { return nil }
        return SudokuPuzzle(puzzle: puzzle, solution: solution, clues: clues, effort: effort)
    }
}
