import TRMDIS
/// Settings of `buildARCDataset` (docs/data.md: ARC-AGI). The defaults are the reference's.
package struct ARCBuildOptions: Sendable {
    /// Augmented versions per task besides the original (the reference's `--num-aug`, 1000).
    package var augmentations: Int
    /// Draws allowed per wanted augmentation before a group is left incomplete (the reference's 5).
    package var retriesFactor: Int
    /// Translate the train split's examples (the test split is always at the top-left).
    package var translate: Bool
    package var seed: UInt64

    package init(augmentations: Int = 1000, retriesFactor: Int = 5, translate: Bool = true, seed: UInt64 = 42) {
        self.augmentations = augmentations
        self.retriesFactor = retriesFactor
        self.translate = translate
        self.seed = seed
    }
}

extension ARCAugmentation {
    /// The versions of one task: the identity first, then up to `count` random augmentations whose
    /// augmented tasks (all pairs, compared as a set of exact grids) differ from the original and from
    /// each other, drawn as the reference does with at most `retriesFactor × count` draws. A task with
    /// few distinct augmentations (symmetric grids, few colours) gets fewer versions.
    ///
    /// The reference compares sorted SHA-256 digests of the grids; comparing the grids themselves is the
    /// same test without the (negligible) chance of a collision.
    package static func versions(of task: ARCTask, count: Int, retriesFactor: Int = 5, rng: inout RNG) -> [ARCAugmentation] {
        var versions: [ARCAugmentation] = [.identity]
        guard count > 0 else { return versions }
        let pairs = task.allPairs
        var seen: Set<[UInt8]> = [canonicalKey(pairs, .identity)]
        for _ in 0 ..< retriesFactor * count {
            let aug = random(rng: &rng)
            if seen.insert(canonicalKey(pairs, aug)).inserted {
                versions.append(aug)
                if versions.count > count { break }
            }
        }
        return versions
    }

    /// The augmented task as bytes, independent of pair order: each pair as (rows, cols, cells) of input
    /// then output (self-delimiting), sorted, concatenated.
    static func canonicalKey(_ pairs: [ARCPair], _ aug: ARCAugmentation) -> [UInt8] {
        var parts: [[UInt8]] = pairs.map { p in
            let i = aug.apply(p.input), o = aug.apply(p.output)
            return [UInt8(i.rows), UInt8(i.cols)] + i.cells + [UInt8(o.rows), UInt8(o.cols)] + o.cells
        }
        parts.sort { $0.lexicographicallyPrecedes($1) }
        return Array(parts.joined())
    }
}

/// A built ARC dataset: the two splits in the reference layout, and the test subset's original tasks
/// (`test_puzzles.json`), which the evaluator scores against.
package struct ARCDataset: Sendable {
    package var dataset: PuzzleDataset
    /// The test subset's tasks with their solutions, sorted by id.
    package var testPuzzles: [ARCTask]
    /// Tasks that got fewer than 1 + augmentations versions, with the number they got.
    package var incompleteGroups: [(task: String, versions: Int)]

    package static let testPuzzlesFile = "test_puzzles.json"

    /// Writes the dataset directory (PuzzleDataset's layout plus `test_puzzles.json`, in the reference's
    /// format `{id: {"train": [...], "test": [...]}}`), every file staged and renamed into place together.
    package func write(directory: String) throws(TRMError) {
        let puzzles = ARCJSON.object(testPuzzles.map { ($0.id, $0.json) })
        try dataset.write(directory: directory, extraFiles: [(Self.testPuzzlesFile, Array(puzzles.text().utf8))])
    }

    /// Loads a dataset directory written by `write` (or by the reference's `build_arc_dataset.py`).
    package static func load(directory: String) throws(TRMError) -> ARCDataset {
        let dataset = try PuzzleDataset.load(directory: directory)
        return ARCDataset(dataset: dataset, testPuzzles: try loadTestPuzzles(directory: directory), incompleteGroups: [])
    }

    /// The version names of a dataset directory (`identifiers.json`), without loading the splits.
    package static func loadIdentifiers(directory: String) throws(TRMError) -> [String] {
        try PuzzleDataset.loadIdentifiers(directory: directory)
    }

    /// The tasks of `test_puzzles.json` in a dataset directory.
    package static func loadTestPuzzles(directory: String) throws(TRMError) -> [ARCTask] {
        let path = directory + "/" + testPuzzlesFile
        let file = try readFile(path)
        let json = try ARCJSON.parse(file, file: path)
        if case .object(let fields) = json, fields.isEmpty { return [] }
        return ARCSubset(name: "test", tasks: try ARCTaskParser(file: path).tasks(json, where: nil)).tasks
    }
}

/// Builds the TRM ARC dataset (docs/data.md: ARC-AGI) from `subsets`, deterministically from `options.seed`:
///
/// - every task becomes a group: its original and up to `augmentations` distinct augmented versions
///   (`ARCAugmentation.versions`), each version a puzzle with its own identifier (names
///   `task|||t{tid}|||{colour map}`, identifiers from 1 in order of appearance, 0 = `<blank>`);
/// - tasks of the other subsets put all their pairs (demonstrations, then tests) in the train split;
///   tasks of `testSubset` put their demonstrations in the train split and their test pairs in the test
///   split, under the same identifiers;
/// - the tasks of each subset are shuffled; the subsets keep their given order;
/// - grids are encoded by `ARCEncoding`; in the train split each example is translated by a random
///   offset shared by its input and output, except one example per puzzle left at (0, 0)
///   (`options.translate`); the test split stays at the top-left.
///
/// Augmentation and encoding run on the engine's thread pool; the result does not depend on the
/// thread count.
package func buildARCDataset(subsets: [ARCSubset], testSubset: String,
                            options: ARCBuildOptions = ARCBuildOptions()) throws(TRMError) -> ARCDataset {
    guard options.augmentations >= 0 else { throw .invalidArgument("augmentations must not be negative (got \(options.augmentations))") }
    guard options.retriesFactor >= 1 else { throw .invalidArgument("retriesFactor must be at least 1") }
    guard let testIndex = subsets.firstIndex(where: { $0.name == testSubset }) else {
        throw .invalidArgument("the test subset '\(testSubset)' is not among the subsets (\(subsets.map(\.name).joined(separator: ", ")))")
    }
    var owner: [String: String] = [:]
    for s in subsets {
        guard !s.tasks.isEmpty else { throw .invalidArgument("ARC subset '\(s.name)' has no tasks") }
        for t in s.tasks {
            if let other = owner.updateValue(s.name, forKey: t.id) {
                throw .invalidArgument("task \(t.id) is in both subsets '\(other)' and '\(s.name)'; task ids name puzzle identifiers and must be unique")
            }
            guard !t.id.contains(ARCAugmentation.separator) else {
                throw .invalidArgument("task id '\(t.id)' contains '\(ARCAugmentation.separator)', which separates a version's name")
            }
        }
    }

    // Task order: each subset shuffled, subsets in order.
    var order: [(subset: Int, task: ARCTask)] = []
    for (s, subset) in subsets.enumerated() {
        var rng = streamRNG(seed: options.seed, stream: 0xA4C0, index: s)
        var tasks = subset.tasks
        tasks.shuffle(using: &rng)
        order += tasks.map { (s, $0) }
    }

    // Versions of every task, in parallel; task i draws from its own stream.
    var versions = [[ARCAugmentation]](repeating: [], count: order.count)
    let pool = Threads.pool, threads = pool.threadCount
    versions.withUnsafeMutableBufferPointer { out in
        pool.runOnAll { t in
            var i = t
            while i < order.count {
                var rng = streamRNG(seed: options.seed, stream: 0xA4C1, index: i)
                out[i] = ARCAugmentation.versions(of: order[i].task, count: options.augmentations,
                                                  retriesFactor: options.retriesFactor, rng: &rng)
                i += threads
            }
        }
    }

    // Identifiers in order of appearance in the train split (which holds every version).
    var identifiers = ["<blank>"]
    var groupIds: [[Int32]] = []
    for (i, (_, task)) in order.enumerated() {
        groupIds.append(versions[i].indices.map { Int32(identifiers.count + $0) })
        identifiers += versions[i].map { $0.name(task: task.id) }
    }

    let trainGroups = order.indices.map { i in
        ARCGroupPlan(task: order[i].task, pairs: order[i].subset == testIndex ? order[i].task.train : order[i].task.allPairs,
                     versions: versions[i], identifiers: groupIds[i])
    }
    let testGroups = order.indices.filter { order[$0].subset == testIndex }.map { i in
        ARCGroupPlan(task: order[i].task, pairs: order[i].task.test, versions: versions[i], identifiers: groupIds[i])
    }
    let train = encodeARCSplit(trainGroups, translate: options.translate, seed: options.seed,
                               identifierCount: identifiers.count)
    let test = encodeARCSplit(testGroups, translate: false, seed: options.seed, identifierCount: identifiers.count)
    let incomplete = order.indices.filter { versions[$0].count < options.augmentations + 1 }
        .map { (order[$0].task.id, versions[$0].count) }
    return ARCDataset(dataset: PuzzleDataset(train: train, test: test, identifiers: identifiers),
                      testPuzzles: subsets[testIndex].tasks, incompleteGroups: incomplete)
}

/// One group to encode: `pairs` of `task` under each version.
struct ARCGroupPlan {
    var task: ARCTask
    var pairs: [ARCPair]
    var versions: [ARCAugmentation]
    var identifiers: [Int32]
}

/// Encodes groups into a split. With `translate`, group g draws its offsets from its own stream.
func encodeARCSplit(_ groups: [ARCGroupPlan], translate: Bool, seed: UInt64, identifierCount: Int) -> PuzzleSplit {
    let n = ARCEncoding.seqLen, side = ARCEncoding.side
    var firstExample = [Int](repeating: 0, count: groups.count + 1)
    var puzzleIndices: [Int32] = [0], groupIndices: [Int32] = [0], puzzleIds: [Int32] = []
    for (g, plan) in groups.enumerated() {
        firstExample[g + 1] = firstExample[g] + plan.versions.count * plan.pairs.count
        for id in plan.identifiers {
            puzzleIds.append(id)
            puzzleIndices.append(puzzleIndices.last! + Int32(plan.pairs.count))
        }
        groupIndices.append(Int32(puzzleIds.count))
    }
    let total = firstExample[groups.count]
    var inputs = [UInt8](repeating: 0, count: total * n), labels = [UInt8](repeating: 0, count: total * n)
    let pool = Threads.pool, threads = pool.threadCount
    inputs.withUnsafeMutableBufferPointer { ins in
        labels.withUnsafeMutableBufferPointer { labs in
            pool.runOnAll { t in
                var g = t
                while g < groups.count {
                    let plan = groups[g]
                    var rng = streamRNG(seed: seed, stream: 0xA4C2, index: g)
                    var e = firstExample[g]
                    for aug in plan.versions {
                        let keep = translate ? rng.below(plan.pairs.count) : 0
                        for (k, pair) in plan.pairs.enumerated() {
                            let p = aug.apply(pair)
                            var row = 0, col = 0
                            if translate && k != keep {
                                row = rng.below(side - max(p.input.rows, p.output.rows) + 1)
                                col = rng.below(side - max(p.input.cols, p.output.cols) + 1)
                            }
                            ARCEncoding.encode(p.input, row: row, col: col, into: UnsafeMutableBufferPointer(rebasing: ins[e * n ..< (e + 1) * n]))
                            ARCEncoding.encode(p.output, row: row, col: col, into: UnsafeMutableBufferPointer(rebasing: labs[e * n ..< (e + 1) * n]))
                            e += 1
                        }
                    }
                    g += threads
                }
            }
        }
    }
    let puzzles = puzzleIds.count
    let metadata = DatasetMetadata(padId: 0, ignoreLabelId: 0, blankIdentifierId: 0, vocabSize: ARCEncoding.vocabSize,
                                   seqLen: n, numPuzzleIdentifiers: identifierCount, totalGroups: groups.count,
                                   meanPuzzleExamples: puzzles > 0 ? Double(total) / Double(puzzles) : 0,
                                   totalPuzzles: puzzles, sets: ["all"])
    return PuzzleSplit(metadata: metadata, inputs: inputs, labels: labels, puzzleIdentifiers: puzzleIds,
                       puzzleIndices: puzzleIndices, groupIndices: groupIndices)
}
