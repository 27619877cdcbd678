import ArgumentParser
import TRMDIS
import TRMDISTasks

/// `trmdis data …`: build puzzle datasets in the reference's on-disk format, and look at them.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Generate puzzle datasets (TRM on-disk format) and print their puzzles.",
        subcommands: [DataSudoku.self, DataMaze.self, DataQueens.self, DataARC.self, DataARCCheck.self, DataShow.self]
    )
}

/// Options every generator shares.
struct DataBuildOptions: ParsableArguments {
    @Option(help: "Original train puzzles (groups).") var train = 1000
    @Option(help: "Test puzzles (never augmented, disjoint from train).") var test = 1000
    @Option(help: "Augmented versions per train puzzle (Sudoku: random shuffles; Maze/N-Queens: distinct dihedral transforms, at most 7).")
    var aug = 0
    @Option(help: "Random seed; the same seed gives the same dataset on any thread count.") var seed: UInt64 = 0
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Rejected attempts allowed per puzzle before giving up.") var maxAttempts = 20_000
    @Flag(help: "Let test puzzles repeat train ones (as the reference builders, which never check).") var allowOverlap = false
    @Option(help: "Output directory.") var out: String

    func build(_ task: TaskKind, _ options: BuildOptions) throws -> (PuzzleDataset, Double) {
        if let threads { try Threads.set(threads) }
        var o = options
        o.maxAttempts = maxAttempts
        o.allowOverlap = allowOverlap
        let t0 = monotonicSeconds()
        let dataset = try buildDataset(task: task, trainCount: train, testCount: test, augmentations: aug, seed: seed, options: o)
        let seconds = monotonicSeconds() - t0
        try dataset.write(directory: out)
        return (dataset, seconds)
    }

    func printSummary(_ task: TaskKind, _ d: PuzzleDataset, seconds: Double) {
        print("\(task): wrote \(out)")
        print("  train: \(d.train.groupCount) groups, \(d.train.puzzleCount) puzzles; test: \(d.test.puzzleCount) puzzles")
        print("  seq_len \(d.train.metadata.seqLen), vocab_size \(d.train.metadata.vocabSize), seed \(seed)")
        print("  generated in \(fmt(seconds)) s on \(Threads.count) thread(s)")
    }
}

struct DataSudoku: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sudoku",
        abstract: "Sudoku with unique solutions; tokens 0 PAD, 1 blank, 2… digits.",
        discussion: """
            Difficulty: clues are removed while the solution stays unique; --min-effort keeps only puzzles
            whose proof of uniqueness needs at least that many solver guesses (9x9: 20+ is Sudoku-Extreme-like).
            """)
    @Option(help: "Grid side: 4 (2x2 boxes), 6 (2x3), 9 (3x3).") var size = 9
    @Option(help: "Box shape RxC, overriding --size (e.g. 3x2).") var box: String?
    @Option(help: "Stop removing clues at this many.") var minClues: Int?
    @Option(help: "Reject puzzles with more clues.") var maxClues: Int?
    @Flag(help: "Spread clue counts uniformly over --min-clues...--max-clues.") var spreadClues = false
    @Option(help: "Minimum solver guesses (difficulty).") var minEffort = 0
    @Option(help: "Maximum solver guesses.") var maxEffort: Int?
    @OptionGroup var common: DataBuildOptions

    func run() throws {
        let shape: SudokuShape
        if let box {
            let parts = box.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("--box must look like 3x3 (got '\(box)')") }
            shape = try SudokuShape(boxRows: parts[0], boxCols: parts[1])
        } else {
            shape = try SudokuShape(size: size)
        }
        let task = TaskKind.sudoku(boxRows: shape.boxRows, boxCols: shape.boxCols)
        let options = BuildOptions(sudoku: SudokuOptions(minClues: minClues, maxClues: maxClues,
                                                         minEffort: minEffort, maxEffort: maxEffort,
                                                         spreadClues: spreadClues))
        let (d, seconds) = try common.build(task, options)
        common.printSummary(task, d, seconds: seconds)
        let solver = SudokuSolver(shape: shape)
        var clues: [Int] = [], guesses: [Int] = []
        for i in 0..<d.test.exampleCount {
            let input = d.test.input(i)
            clues.append(input.filter { $0 >= 2 }.count)
            guesses.append(solver.solve(tokens: input).effort.guesses)
        }
        print("  test clues: \(describe(clues)); solver guesses: \(describe(guesses))")
    }
}

struct DataMaze: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maze",
        abstract: "Mazes with the shortest S→G path marked; tokens 0 PAD, 1 #, 2 space, 3 S, 4 G, 5 o.",
        discussion: "Maze-Hard is --size 30 --min-path 110.")
    @Option(help: "Grid side.") var size = 30
    @Option(help: "Minimum S→G path length in steps.") var minPath = 0
    @Option(help: "Fraction of inner walls knocked down to make loops.") var loops = 0.1
    @Flag(help: "Allow several shortest paths (the label marks one).") var allowMultiplePaths = false
    @OptionGroup var common: DataBuildOptions

    func run() throws {
        let task = TaskKind.maze(size: size)
        let options = BuildOptions(maze: MazeOptions(minPathLength: minPath, loopFraction: loops,
                                                     uniqueShortestPath: !allowMultiplePaths))
        let (d, seconds) = try common.build(task, options)
        common.printSummary(task, d, seconds: seconds)
        let lengths = (0..<d.test.exampleCount).map { d.test.label($0).filter { $0 == MazeToken.path }.count + 1 }
        print("  test path lengths: \(describe(lengths))")
    }
}

struct DataQueens: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nqueens",
        abstract: "N-Queens completions from k given queens; tokens 0 PAD, 1 empty, 2 queen.",
        discussion: "DIS (docs/model.md: DIS): --size 8, k uniform in 0...7, 800 train puzzles with 8 dihedral versions.")
    @Option(help: "Board side (4...12).") var size = 8
    @Option(help: "Fewest given queens.") var minGiven = 0
    @Option(help: "Most given queens (default: min(7, size-1)).") var maxGiven: Int?
    @OptionGroup var common: DataBuildOptions

    func run() throws {
        let task = TaskKind.nqueens(size: size)
        let hi = maxGiven ?? min(7, size - 1)
        guard minGiven <= hi else { throw ValidationError("--min-given must not exceed --max-given") }
        let options = BuildOptions(queens: QueensOptions(givens: minGiven...hi))
        let (d, seconds) = try common.build(task, options)
        common.printSummary(task, d, seconds: seconds)
        let givens = (0..<d.test.exampleCount).map { d.test.input($0).filter { $0 == QueensToken.queen }.count }
        print("  test given queens: \(describe(givens))")
    }
}

/// "min … max, mean …, median …" of a list of counts.
func describe(_ values: [Int]) -> String {
    guard !values.isEmpty else { return "none" }
    let sorted = values.sorted()
    let mean = Double(values.reduce(0, +)) / Double(values.count)
    return "min \(sorted.first!), median \(sorted[sorted.count / 2]), mean \(fmt(mean)), max \(sorted.last!)"
}
