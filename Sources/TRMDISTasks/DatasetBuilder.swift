import TRMDIS
/// Per-task generation settings for `buildDataset`.
package struct BuildOptions: Sendable {
    package var sudoku: SudokuOptions
    package var maze: MazeOptions
    package var queens: QueensOptions
    /// Rejected attempts allowed per puzzle before the build fails (the filters are then too strict).
    package var maxAttempts: Int
    /// Keep test puzzles that also occur in train (or twice in test). Off by default; the reference's
    /// own builders never check, and on small puzzle spaces (N-Queens with few givens) the check shifts
    /// the test distribution towards more givens, so a replication may want it on.
    package var allowOverlap: Bool

    package init(sudoku: SudokuOptions = SudokuOptions(), maze: MazeOptions = MazeOptions(),
                queens: QueensOptions = QueensOptions(), maxAttempts: Int = 20_000, allowOverlap: Bool = false) {
        self.sudoku = sudoku
        self.maze = maze
        self.queens = queens
        self.maxAttempts = maxAttempts
        self.allowOverlap = allowOverlap
    }
}

/// Builds a dataset in the reference's layout (docs/formats.md: Datasets), deterministically from `seed`:
///
/// - train: `trainCount` groups, each the original puzzle followed by `augmentations` transformed
///   versions (docs/formats.md: Datasets for Sudoku, distinct dihedral transforms for Maze and N-Queens); every puzzle
///   one example with identifier 0;
/// - test: `testCount` puzzles, never augmented, each different from every train example (augmented
///   ones included) and from the other test puzzles, compared as (input, label) pairs, so that test
///   accuracy is never a memory of training. (Inputs alone would not do for N-Queens, where the empty
///   board is the input of every 0-given puzzle.)
///
/// Generation runs on the engine's thread pool; the result does not depend on the thread count.
package func buildDataset(task: TaskKind, trainCount: Int, testCount: Int, augmentations: Int = 0, seed: UInt64,
                         options: BuildOptions = BuildOptions()) throws(TRMError) -> PuzzleDataset {
    guard trainCount >= 0, testCount >= 0 else { throw .invalidArgument("puzzle counts must not be negative") }
    guard augmentations >= 0 && augmentations <= task.maxAugmentations else {
        throw .invalidArgument("\(task) allows 0...\(task.maxAugmentations) augmentations per puzzle (got \(augmentations))")
    }
    guard options.maxAttempts >= 1 else { throw .invalidArgument("maxAttempts must be at least 1") }
    let source = try PuzzleSource(task: task, options: options)

    // Train: originals, then their augmented versions, group by group.
    let originals = try generateExamples(source, count: trainCount, first: 0, seed: seed, stream: 1,
                                         maxAttempts: options.maxAttempts)
    var train = SplitAccumulator(task: task)
    let prints = train.appendAugmentedGroups(originals, augmentations: augmentations, seed: seed)
    var seen = Set<UInt64>(minimumCapacity: prints.count + testCount)
    for p in prints { seen.insert(p) }

    // Test: fresh candidates from their own stream, skipping any already seen.
    var test = SplitAccumulator(task: task)
    var next = 0
    let candidateLimit = 20 * testCount + 1000
    while test.puzzleCount < testCount {
        guard next < candidateLimit else {
            throw .invalidArgument("could only find \(test.puzzleCount) of \(testCount) test puzzles distinct from the train split in \(next) candidates; \(task) has too few distinct puzzles for these counts")
        }
        let batch = min(testCount - test.puzzleCount, candidateLimit - next)
        let candidates = try generateExamples(source, count: batch, first: next, seed: seed, stream: 2,
                                              maxAttempts: options.maxAttempts)
        next += batch
        for c in candidates
        where test.puzzleCount < testCount && (options.allowOverlap || seen.insert(fingerprint(c.input, c.label)).inserted) {
            test.appendGroup([c])
        }
    }
    return PuzzleDataset(train: train.split(), test: test.split(), identifiers: ["<blank>"])
}

/// Collects groups of one-example puzzles into a split's flat arrays.
struct SplitAccumulator {
    let task: TaskKind
    var inputs: [UInt8] = []
    var labels: [UInt8] = []
    var puzzleIndices: [Int32] = [0]
    var groupIndices: [Int32] = [0]

    init(task: TaskKind) { self.task = task }

    var puzzleCount: Int { puzzleIndices.count - 1 }

    mutating func appendGroup(_ group: [GeneratedExample]) {
        for e in group {
            inputs += e.input
            labels += e.label
            puzzleIndices.append(Int32(puzzleCount + 1))
        }
        groupIndices.append(Int32(puzzleCount))
    }

    /// Appends every original followed by its `augmentations` transformed versions, writing straight
    /// into the flat arrays (a Sudoku-Extreme-style build has a million versions). Group g draws from
    /// its own stream, so the groups are made on the thread pool with the same result as one by one.
    /// Returns each new example's fingerprint.
    mutating func appendAugmentedGroups(_ originals: [GeneratedExample], augmentations: Int, seed: UInt64) -> [UInt64] {
        let n = task.seqLen, perGroup = 1 + augmentations
        let firstExample = puzzleCount, total = originals.count * perGroup
        inputs += [UInt8](repeating: 0, count: total * n)
        labels += [UInt8](repeating: 0, count: total * n)
        var prints = [UInt64](repeating: 0, count: total)
        let task = self.task
        let pool = Threads.pool
        let threads = pool.threadCount
        inputs.withUnsafeMutableBufferPointer { ins in
            labels.withUnsafeMutableBufferPointer { labs in
                prints.withUnsafeMutableBufferPointer { out in
                    pool.runOnAll { t in
                        var g = t
                        while g < originals.count {
                            var rng = streamRNG(seed: seed, stream: 3, index: g)
                            let original = originals[g]
                            let transforms = Augmentation.buildTimeTransforms(task, count: augmentations, rng: &rng)
                            for k in 0..<perGroup {
                                let e = g * perGroup + k, at = (firstExample + e) * n
                                let inSlot = UnsafeMutableBufferPointer(rebasing: ins[at ..< at + n])
                                let labSlot = UnsafeMutableBufferPointer(rebasing: labs[at ..< at + n])
                                if k == 0 {
                                    _ = inSlot.initialize(from: original.input)
                                    _ = labSlot.initialize(from: original.label)
                                } else {
                                    transforms[k - 1].apply(original.input, into: inSlot)
                                    transforms[k - 1].apply(original.label, into: labSlot)
                                }
                                out[e] = fingerprint(inSlot, labSlot)
                            }
                            g += threads
                        }
                    }
                }
            }
        }
        for _ in 0..<originals.count {
            for _ in 0..<perGroup { puzzleIndices.append(Int32(puzzleCount + 1)) }
            groupIndices.append(Int32(puzzleCount))
        }
        return prints
    }

    /// The split, with the reference builders' metadata: one identifier, one example per puzzle and
    /// `total_puzzles` counting groups (their convention, see DatasetMetadata).
    func split() -> PuzzleSplit {
        let groups = groupIndices.count - 1
        let metadata = DatasetMetadata(padId: 0, ignoreLabelId: 0, blankIdentifierId: 0, vocabSize: task.vocabSize,
                                       seqLen: task.seqLen, numPuzzleIdentifiers: 1, totalGroups: groups,
                                       meanPuzzleExamples: 1, totalPuzzles: groups, sets: ["all"])
        return PuzzleSplit(metadata: metadata, inputs: inputs, labels: labels,
                           puzzleIdentifiers: [Int32](repeating: 0, count: puzzleCount),
                           puzzleIndices: puzzleIndices, groupIndices: groupIndices)
    }
}
