import Testing
@testable import TRMDIS
@testable import TRMDISTasks

@Suite struct DataSudokuTests {
    /// Every generated puzzle has exactly one solution (re-checked by both solvers), it is the label,
    /// and the checker accepts it; 310 puzzles over the three sizes.
    @Test(arguments: [(2, 2, 150), (2, 3, 100), (3, 3, 60)])
    func generatedSudokusAreUnique(boxRows: Int, boxCols: Int, count: Int) throws {
        let d = try buildDataset(task: .sudoku(boxRows: boxRows, boxCols: boxCols), trainCount: count, testCount: 0,
                                 seed: UInt64(boxRows * 10 + boxCols))
        let shape = try SudokuShape(boxRows: boxRows, boxCols: boxCols)
        let solver = SudokuSolver(shape: shape)
        var propagator = SudokuPropagator(shape: shape)
        #expect(d.train.metadata.vocabSize == shape.size + 2 && d.train.metadata.seqLen == shape.cellCount)
        for i in 0..<d.train.exampleCount {
            let input = d.train.input(i), label = d.train.label(i)
            #expect(input.allSatisfy { $0 >= 1 && Int($0) <= shape.size + 1 })
            #expect(label.allSatisfy { $0 >= 2 && Int($0) <= shape.size + 1 })
            let r = solver.solve(tokens: input)
            #expect(r.count == 1, "puzzle \(i) has \(r.count) solutions")
            #expect(r.solution?.map { $0 + 1 } == Array(label))
            #expect(propagator.countSolutions(input.map { $0 - 1 }, limit: 2) == 1)
            #expect(SudokuChecker.check(puzzle: input, prediction: label, shape: shape).solved)
            // Minimal: removing any clue makes the solution ambiguous.
            if i < 5 {
                let digits = input.map { $0 - 1 }
                for cell in digits.indices where digits[cell] != 0 {
                    var fewer = digits
                    fewer[cell] = 0
                    #expect(solver.solve(digits: fewer).count == 2)
                }
            }
        }
    }

    /// The fast propagating solver and the plain one agree on solution counts, including grids with
    /// several solutions and contradictory ones.
    @Test func solversAgree() throws {
        let shape = try SudokuShape(boxRows: 3, boxCols: 3)
        let solver = SudokuSolver(shape: shape)
        var propagator = SudokuPropagator(shape: shape)
        var rng = RNG(seed: 9)
        for trial in 0..<40 {
            var grid = solver.randomGrid(rng: &rng)
            let keep = 20 + rng.below(20)
            var cells = Array(0..<81)
            cells.shuffle(using: &rng)
            for c in cells.dropFirst(keep) { grid[c] = 0 }
            if trial % 5 == 0 { grid[cells[0]] = UInt8(1 + (Int(grid[cells[0]]) % 9)) }  // maybe contradictory
            let plain = solver.solve(digits: grid, limit: 2).count
            #expect(propagator.countSolutions(grid, limit: 2) == plain, "trial \(trial)")
        }
    }

    /// The minimum-effort filter gives puzzles that need far more search than easy ones.
    @Test func hardSetsNeedMoreSearch() throws {
        let shape = try SudokuShape(boxRows: 3, boxCols: 3)
        let solver = SudokuSolver(shape: shape)
        func meanGuesses(_ options: SudokuOptions, seed: UInt64) throws -> Double {
            let d = try buildDataset(task: .sudoku(boxRows: 3, boxCols: 3), trainCount: 16, testCount: 0, seed: seed,
                                     options: BuildOptions(sudoku: options))
            let efforts = (0..<d.train.exampleCount).map { solver.solve(tokens: d.train.input($0)).effort.guesses }
            return Double(efforts.reduce(0, +)) / Double(efforts.count)
        }
        let easy = try meanGuesses(SudokuOptions(minClues: 40), seed: 1)
        let plain = try meanGuesses(SudokuOptions(), seed: 2)
        let hard = try meanGuesses(SudokuOptions(minEffort: 150), seed: 3)
        #expect(hard >= 150)
        #expect(hard >= 20 * max(1, easy), "hard \(hard) vs easy \(easy)")
        #expect(hard > 1.5 * plain, "hard \(hard) vs unfiltered \(plain)")
        // Clue range: a 40-clue floor is respected, and a ceiling rejects puzzles above it.
        let d = try buildDataset(task: .sudoku(boxRows: 3, boxCols: 3), trainCount: 8, testCount: 0, seed: 4,
                                 options: BuildOptions(sudoku: SudokuOptions(minClues: 30, maxClues: 30)))
        for i in 0..<8 { #expect(d.train.input(i).filter { $0 >= 2 }.count == 30) }
    }

    /// Shuffles keep puzzles valid and unique with the transformed label as the solution; digits move
    /// as a permutation and blanks stay blank.
    @Test(arguments: [(2, 2), (2, 3), (3, 2), (3, 3)])
    func augmentationKeepsValidity(boxRows: Int, boxCols: Int) throws {
        let task = TaskKind.sudoku(boxRows: boxRows, boxCols: boxCols)
        let shape = try SudokuShape(boxRows: boxRows, boxCols: boxCols)
        let d = try buildDataset(task: task, trainCount: 4, testCount: 0, augmentations: 6, seed: 8)
        #expect(d.train.groupIndices == [0, 7, 14, 21, 28])
        var rng = RNG(seed: 1)
        for i in 0..<d.train.exampleCount {
            var input = Array(d.train.input(i)), label = Array(d.train.label(i))
            #expect(SudokuChecker.check(puzzle: input, prediction: label, shape: shape).solved)
            #expect(SudokuSolver(shape: shape).solve(tokens: input).count == 1)
            let blanks = input.filter { $0 == 1 }.count
            Augmentation.augment(task, input: &input, label: &label, rng: &rng)
            #expect(input.filter { $0 == 1 }.count == blanks)
            #expect(SudokuChecker.check(puzzle: input, prediction: label, shape: shape).solved)
        }
        // On the trainers' Int32 tokens an ignored label (−100) moves but keeps its value.
        var ins = d.train.input(0).map { Int32($0) }, labs = d.train.label(0).map { Int32($0) }
        labs[0] = -100
        Augmentation.augment(task, input: &ins, label: &labs, rng: &rng)
        #expect(labs.filter { $0 == -100 }.count == 1)
        #expect(!(try SudokuShape(boxRows: 2, boxCols: 3) == SudokuShape(boxRows: 3, boxCols: 2)))
    }

    /// The checker accepts any valid completion, and rejects conflicts, blanks and changed clues.
    @Test func checkerAcceptsAnyValidCompletion() throws {
        let shape = try SudokuShape(boxRows: 2, boxCols: 2)
        let solution: [UInt8] = [1, 2, 3, 4, 3, 4, 1, 2, 2, 1, 4, 3, 4, 3, 2, 1].map { $0 + 1 }
        let other: [UInt8] = [1, 2, 3, 4, 3, 4, 1, 2, 2, 3, 4, 1, 4, 1, 2, 3].map { $0 + 1 }
        var puzzle = [UInt8](repeating: 1, count: 16)
        puzzle[0] = solution[0]
        #expect(SudokuChecker.check(puzzle: puzzle, prediction: solution, shape: shape).solved)
        #expect(SudokuChecker.check(puzzle: puzzle, prediction: other, shape: shape).solved)
        var conflict = solution
        conflict.swapAt(1, 2)
        #expect(!SudokuChecker.check(puzzle: puzzle, prediction: conflict, shape: shape).consistent)
        var blank = solution
        blank[5] = 1
        #expect(!SudokuChecker.check(puzzle: puzzle, prediction: blank, shape: shape).complete)
        puzzle[9] = solution[9]
        let r = SudokuChecker.check(puzzle: puzzle, prediction: other, shape: shape)
        #expect(r.complete && r.consistent && !r.keepsClues && !r.solved)
    }
}

@Suite struct DataMazeTests {
    /// Labels mark a shortest path (checked by an independent BFS), it is unique, the checker accepts
    /// it, and the hardness filter holds.
    @Test(arguments: [7, 12, 30])
    func mazeLabelsAreShortestPaths(size: Int) throws {
        let minPath = size == 30 ? 100 : size
        let d = try buildDataset(task: .maze(size: size), trainCount: 25, testCount: 5, seed: UInt64(size),
                                 options: BuildOptions(maze: MazeOptions(minPathLength: minPath)))
        for split in [d.train, d.test] {
            for i in 0..<split.exampleCount {
                let input = Array(split.input(i)), label = Array(split.label(i))
                let s = input.firstIndex(of: MazeToken.start)!, g = input.firstIndex(of: MazeToken.goal)!
                #expect(input.filter { $0 == MazeToken.start }.count == 1 && input.filter { $0 == MazeToken.goal }.count == 1)
                #expect(!input.contains(MazeToken.path) && !input.contains(MazeToken.pad))
                // Independent BFS over open cells.
                var dist = [Int](repeating: -1, count: size * size)
                var queue = [s]
                dist[s] = 0
                while !queue.isEmpty {
                    let v = queue.removeFirst()
                    for w in [v - size, v + size, v % size > 0 ? v - 1 : -1, v % size < size - 1 ? v + 1 : -1]
                    where w >= 0 && w < size * size && dist[w] < 0 && input[w] != MazeToken.wall {
                        dist[w] = dist[v] + 1
                        queue.append(w)
                    }
                }
                let marked = (0..<size * size).filter { label[$0] == MazeToken.path }
                #expect(marked.count == dist[g] - 1)
                #expect(dist[g] >= minPath)
                #expect(label[s] == MazeToken.start && label[g] == MazeToken.goal)
                let check = MazeChecker.check(input: input, prediction: label, size: size)
                #expect(check.solved && check.pathLength == dist[g] && check.shortestLength == dist[g])
                // Unique shortest path: blocking any marked cell makes the route longer (or impossible).
                if i < 3, let cell = marked.first {
                    var blocked = input
                    blocked[cell] = MazeToken.wall
                    let alt = MazeDistances(size: size, source: s) { blocked[$0] != MazeToken.wall }
                    #expect(alt.distance[g] == -1 || alt.distance[g] > dist[g])
                }
            }
        }
    }

    /// The checker rejects detours, gaps, extra marks and changes to the maze.
    @Test func mazeCheckerRejectsWrongPaths() throws {
        // 5×5 open room: S top-left, G bottom-right; shortest = 8 steps, many routes.
        let n = 5
        var maze = [UInt8](repeating: MazeToken.open, count: n * n)
        maze[0] = MazeToken.start
        maze[24] = MazeToken.goal
        var right = maze  // along the top row, then down the right column
        for c in 1..<5 { right[c] = MazeToken.path }
        for r in 1..<4 { right[r * 5 + 4] = MazeToken.path }
        #expect(MazeChecker.check(input: maze, prediction: right, size: n).solved)
        var other = maze  // down, then right: a different shortest path
        for r in 1..<5 { other[r * 5] = MazeToken.path }
        for c in 1..<4 { other[20 + c] = MazeToken.path }
        #expect(MazeChecker.check(input: maze, prediction: other, size: n).solved)
        var gap = right
        gap[2] = MazeToken.open
        #expect(!MazeChecker.check(input: maze, prediction: gap, size: n).connects)
        var extra = right
        extra[12] = MazeToken.path
        let e = MazeChecker.check(input: maze, prediction: extra, size: n)
        #expect(e.connects && !e.shortest)
        var detour = maze  // right to (0,4), down to (2,4), left, down to (4,3): 10 steps
        for cell in [1, 2, 3, 4, 9, 14, 13, 18, 23] { detour[cell] = MazeToken.path }
        let dcheck = MazeChecker.check(input: maze, prediction: detour, size: n)
        #expect(dcheck.connects && !dcheck.shortest && dcheck.pathLength == 10 && dcheck.shortestLength == 8)
        var changed = right
        changed[12] = MazeToken.wall
        #expect(!MazeChecker.check(input: maze, prediction: changed, size: n).wellFormed)
    }
}

@Suite struct DataQueensTests {
    @Test func solutionCountsAreKnown() throws {
        #expect([4, 5, 6, 7, 8].map { QueensGenerator.allSolutions(size: $0).count } == [2, 10, 4, 40, 92])
    }

    /// Labels are full non-attacking placements that keep the given queens; k stays in range.
    @Test(arguments: [4, 8, 12])
    func queensLabelsAreValid(size: Int) throws {
        let givens = 0...min(7, size - 1)
        let d = try buildDataset(task: .nqueens(size: size), trainCount: 60, testCount: size == 4 ? 0 : 20,
                                 augmentations: 7, seed: 5)
        #expect(d.train.metadata.vocabSize == 3)
        #expect(d.train.groupCount == 60 && d.train.exampleCount == 480)
        for split in [d.train, d.test] {
            for i in 0..<split.exampleCount {
                let input = Array(split.input(i)), label = Array(split.label(i))
                let c = QueensChecker.check(input: input, prediction: label, label: label, size: size)
                #expect(c.validCompletion && c.exact)
                #expect(givens.contains(input.filter { $0 == QueensToken.queen }.count))
            }
        }
    }

    @Test func queensCheckerReportsBothVerdicts() throws {
        let g = try QueensGenerator(size: 8)
        let a = g.solutions[0], b = g.solutions[1]
        let label = g.board(a)
        // Givens: a's queens in the rows where a and b agree, so b is another valid completion.
        let shared = Set((0..<8).filter { a[$0] == b[$0] })
        let input = g.board(a, rows: shared)
        let asB = QueensChecker.check(input: input, prediction: g.board(b), label: label, size: 8)
        #expect(asB.validCompletion && !asB.exact)
        let withGiven = g.board(a, rows: [0])
        let c = QueensChecker.check(input: withGiven, prediction: g.board(b), label: label, size: 8)
        #expect(c.valid && c.keepsGivens == (a[0] == b[0]) && !c.exact)
        var attack = label
        attack[1] = QueensToken.queen  // a ninth queen
        #expect(!QueensChecker.check(input: input, prediction: attack, label: label, size: 8).valid)
    }
}

@Suite struct DataBuilderTests {
    /// Every transform followed by its inverse is the identity, on non-square grids too, and the
    /// forward formulas match the table (checked on a 2×3 example against NumPy's results).
    @Test func dihedralInverseIsIdentity() throws {
        for (h, w) in [(3, 5), (4, 4), (1, 6), (7, 2)] {
            let grid = Array(0..<(h * w))
            for tid in 0..<8 {
                let t = Dihedral.apply(tid, to: grid, rows: h, cols: w)
                let (th, tw) = Dihedral.outputShape(tid, rows: h, cols: w)
                #expect(th * tw == h * w)
                #expect(Dihedral.invert(tid, t, rows: th, cols: tw) == grid, "tid \(tid) on \(h)x\(w)")
                #expect(Set(t) == Set(grid))
            }
        }
        #expect(Dihedral.inverse == [0, 3, 2, 1, 4, 5, 6, 7])
        // A = [[0,1,2],[3,4,5]]; NumPy: rot90 → [[2,5],[1,4],[0,3]], rot180 → [[5,4,3],[2,1,0]],
        // rot270 → [[3,0],[4,1],[5,2]], fliplr → [[2,1,0],[5,4,3]], flipud → [[3,4,5],[0,1,2]],
        // .T → [[0,3],[1,4],[2,5]], fliplr(rot90) → [[5,2],[4,1],[3,0]].
        let a = [0, 1, 2, 3, 4, 5]
        let expected = [[0, 1, 2, 3, 4, 5], [2, 5, 1, 4, 0, 3], [5, 4, 3, 2, 1, 0], [3, 0, 4, 1, 5, 2],
                        [2, 1, 0, 5, 4, 3], [3, 4, 5, 0, 1, 2], [0, 3, 1, 4, 2, 5], [5, 2, 4, 1, 3, 0]]
        for tid in 0..<8 { #expect(Dihedral.apply(tid, to: a, rows: 2, cols: 3) == expected[tid], "tid \(tid)") }
    }

    /// Dihedral augmentation keeps maze and queens labels right, and a build-time group holds
    /// distinct transforms.
    @Test func dihedralAugmentationKeepsAnswers() throws {
        let d = try buildDataset(task: .maze(size: 9), trainCount: 3, testCount: 0, augmentations: 7, seed: 6)
        #expect(d.train.groupIndices == [0, 8, 16, 24])
        for g in 0..<3 {
            let versions = Set((g * 8..<(g + 1) * 8).map { Array(d.train.input($0)) })
            #expect(versions.count >= 2)
            for i in g * 8..<(g + 1) * 8 {
                #expect(MazeChecker.check(input: d.train.input(i), prediction: d.train.label(i), size: 9).solved)
            }
        }
        var rng = RNG(seed: 3)
        let q = try buildDataset(task: .nqueens(size: 8), trainCount: 5, testCount: 0, seed: 6)
        for i in 0..<5 {
            var input = Array(q.train.input(i)), label = Array(q.train.label(i))
            Augmentation.augment(.nqueens(size: 8), input: &input, label: &label, rng: &rng)
            #expect(QueensChecker.check(input: input, prediction: label, label: label, size: 8).validCompletion)
        }
        expectDataError(["0...7 augmentations"]) {
            _ = try buildDataset(task: .maze(size: 9), trainCount: 1, testCount: 0, augmentations: 8, seed: 1)
        }
    }

    /// Same seed → identical datasets (whatever the thread count); another seed → different.
    @Test func sameSeedSameDataset() throws {
        for task in [TaskKind.sudoku(boxRows: 2, boxCols: 3), .maze(size: 11), .nqueens(size: 6)] {
            let a = try buildDataset(task: task, trainCount: 12, testCount: 6, augmentations: 2, seed: 42)
            let b = try buildDataset(task: task, trainCount: 12, testCount: 6, augmentations: 2, seed: 42)
            let c = try buildDataset(task: task, trainCount: 12, testCount: 6, augmentations: 2, seed: 43)
            #expect(a == b, "\(task)")
            #expect(a.train.inputs != c.train.inputs, "\(task)")
        }
        // Puzzle i comes from its own stream whichever thread makes it: a plain serial loop over the
        // streams gives the pooled build's train split.
        let pooled = try buildDataset(task: .sudoku(boxRows: 2, boxCols: 2), trainCount: 9, testCount: 3, seed: 7)
        let source = try PuzzleSource(task: .sudoku(boxRows: 2, boxCols: 2), options: BuildOptions())
        var serial: [UInt8] = []
        for i in 0..<9 {
            var rng = streamRNG(seed: 7, stream: 1, index: i)
            while true { if let e = source.attempt(rng: &rng) { serial += e.input; break } }
        }
        #expect(serial == pooled.train.inputs)
    }

    /// No test puzzle equals any train puzzle (augmented versions included) or another test puzzle,
    /// even where the puzzle space is small enough for collisions to be common.
    @Test func trainAndTestAreDisjoint() throws {
        for task in [TaskKind.nqueens(size: 6), .sudoku(boxRows: 2, boxCols: 2)] {
            let d = try buildDataset(task: task, trainCount: 20, testCount: 15, augmentations: 3, seed: 9)
            var train = Set<[UInt8]>()
            for i in 0..<d.train.exampleCount { train.insert(Array(d.train.input(i)) + Array(d.train.label(i))) }
            var test = Set<[UInt8]>()
            for i in 0..<d.test.exampleCount {
                let key = Array(d.test.input(i)) + Array(d.test.label(i))
                #expect(!train.contains(key), "\(task): test \(i) is in train")
                #expect(test.insert(key).inserted, "\(task): test \(i) repeats")
            }
            #expect(d.test.exampleCount == 15)
        }
        // 4×4 N-Queens has 2 solutions × 16 given subsets at most: asking for more fails clearly,
        // unless overlap is allowed.
        expectDataError(["too few distinct puzzles"]) {
            _ = try buildDataset(task: .nqueens(size: 4), trainCount: 10, testCount: 40, seed: 1)
        }
        let overlapping = try buildDataset(task: .nqueens(size: 4), trainCount: 10, testCount: 40, seed: 1,
                                           options: BuildOptions(allowOverlap: true))
        #expect(overlapping.test.exampleCount == 40)
    }

    @Test func impossibleFiltersFailClearly() throws {
        expectDataError(["no puzzle met the filters"]) {
            _ = try buildDataset(task: .sudoku(boxRows: 2, boxCols: 2), trainCount: 1, testCount: 0, seed: 1,
                                 options: BuildOptions(sudoku: SudokuOptions(minEffort: 1000), maxAttempts: 50))
        }
        expectDataError(["minPathLength"]) {
            _ = try buildDataset(task: .maze(size: 6), trainCount: 1, testCount: 0, seed: 1,
                                 options: BuildOptions(maze: MazeOptions(minPathLength: 100)))
        }
    }
}
