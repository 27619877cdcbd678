#if canImport(Glibc)
import Glibc
#endif
import TRMDIS

/// ARC scores (docs/data.md: ARC-AGI): per test pair, the rank of the correct output among the voted answers.
package struct ARCScore: Sendable, Equatable {
    /// The reference's K values.
    package static let defaultKs = [1, 2, 5, 10, 100, 1000]

    package struct Task: Sendable, Equatable {
        package var id: String
        /// For each test pair: the 1-based rank of the correct output among the voted answers, or nil
        /// when no vote gave it.
        package var ranks: [Int?]
        /// For each test pair: votes cast and distinct answers.
        package var votes: [Int]
        package var candidates: [Int]

        /// The fraction of the task's test pairs whose correct output is among the top k answers.
        package func solved(at k: Int) -> Double {
            guard !ranks.isEmpty else { return 0 }
            return Double(ranks.filter { $0.map { $0 <= k } ?? false }.count) / Double(ranks.count)
        }
    }

    package var tasks: [Task]
    package var ks: [Int]
    /// Votes cast under an input that is none of its task's test inputs (0 unless the inputs were
    /// decoded or de-augmented wrongly).
    package var strayVotes: Int

    /// pass@k: the mean over tasks of the fraction of their test pairs solved within k attempts.
    package func pass(at k: Int) -> Double {
        guard !tasks.isEmpty else { return 0 }
        return tasks.reduce(0) { $0 + $1.solved(at: k) } / Double(tasks.count)
    }

    /// pass@k for every k in `ks`.
    package var passAtK: [(k: Int, score: Double)] { ks.map { ($0, pass(at: $0)) } }

    package var pass1: Double { pass(at: 1) }
    /// The benchmark number (two attempts per test input).
    package var pass2: Double { pass(at: 2) }

    package var pairCount: Int { tasks.reduce(0) { $0 + $1.ranks.count } }
    /// Test pairs that received no vote at all.
    package var unvotedPairs: Int { tasks.reduce(0) { $0 + $1.votes.filter { $0 == 0 }.count } }
}

/// Collects the votes of one model's predictions on an ARC test split and scores them (docs/data.md: ARC-AGI):
/// each prediction is cropped, its version's augmentation undone, and counted as a vote for its
/// de-augmented grid under the key (task, de-augmented input); answers rank by vote count, ties broken
/// by their mean halting confidence σ(q_halt).
///
/// Make one evaluator per checkpoint: the reference pools the votes of every evaluation in a run by
/// default, which mixes checkpoints; here votes only accumulate in the evaluator they are cast into.
package struct ARCEvaluator: Sendable {
    /// The test tasks with their solutions (`test_puzzles.json`).
    package let tasks: [ARCTask]
    /// Identifier → name (`identifiers.json`).
    package let identifiers: [String]
    /// Identifier → (index in `tasks`, augmentation), nil for names of tasks not scored here.
    let versions: [(task: Int, augmentation: ARCAugmentation)?]
    let taskIndex: [String: Int]

    struct Key: Hashable {
        var task: Int
        var input: ARCGrid
    }

    package struct Answer: Sendable, Equatable {
        package var grid: ARCGrid
        package var votes: Int
        package var meanConfidence: Double
    }

    struct Tally {
        var votes = 0
        var confidenceSum = 0.0
        var firstSeen = 0
    }

    var tallies: [Key: [ARCGrid: Tally]] = [:]
    /// Votes cast so far.
    package private(set) var voteCount = 0

    package init(tasks: [ARCTask], identifiers: [String]) throws(TRMError) {
        self.tasks = tasks
        self.identifiers = identifiers
        var index: [String: Int] = [:]
        for (i, t) in tasks.enumerated() {
            guard index.updateValue(i, forKey: t.id) == nil else { throw .format("test puzzles list task \(t.id) twice") }
        }
        taskIndex = index
        versions = identifiers.map { name in
            guard let (task, aug) = ARCAugmentation.parse(name: name), let i = index[task] else { return nil }
            return (i, aug)
        }
    }

    /// An evaluator for a built dataset.
    package init(dataset: ARCDataset) throws(TRMError) {
        try self.init(tasks: dataset.testPuzzles, identifiers: dataset.dataset.identifiers)
    }

    /// Forgets every vote.
    package mutating func reset() {
        tallies = [:]
        voteCount = 0
    }

    /// Casts a vote already in the original task's frame.
    package mutating func vote(task: String, input: ARCGrid, prediction: ARCGrid, confidence: Double) throws(TRMError) {
        guard let t = taskIndex[task] else { throw .invalidArgument("task \(task) is not among the test puzzles") }
        cast(Key(task: t, input: input), prediction, confidence)
    }

    /// Casts the vote of one test example: the 900-token input and predicted canvases of the version with
    /// puzzle identifier `identifier`, and the model's halting confidence σ(q_halt).
    package mutating func vote<I: RandomAccessCollection, P: RandomAccessCollection>(
        identifier: Int, input: I, prediction: P, confidence: Double
    ) throws(TRMError) where I.Element: BinaryInteger, I.Index == Int, P.Element: BinaryInteger, P.Index == Int {
        guard identifier >= 0 && identifier < versions.count, let (t, aug) = versions[identifier] else {
            let name = identifier >= 0 && identifier < identifiers.count ? " (\(identifiers[identifier]))" : ""
            throw .invalidArgument("puzzle identifier \(identifier)\(name) is not a version of a test task")
        }
        guard input.count == ARCEncoding.seqLen && prediction.count == ARCEncoding.seqLen else {
            throw .invalidArgument("ARC canvases have \(ARCEncoding.seqLen) tokens (got \(input.count) and \(prediction.count))")
        }
        let inputGrid = aug.undo(ARCEncoding.crop(input))
        let predicted = aug.undo(ARCEncoding.crop(prediction))
        cast(Key(task: t, input: inputGrid), predicted, confidence)
    }

    private mutating func cast(_ key: Key, _ prediction: ARCGrid, _ confidence: Double) {
        let order = voteCount
        tallies[key, default: [:]][prediction, default: Tally(firstSeen: order)].votes += 1
        tallies[key]![prediction]!.confidenceSum += confidence
        voteCount += 1
    }

    /// Casts the split's labels as predictions (confidence 1): a check of the data pipeline, which must
    /// then score pass@1 = 1.
    package mutating func voteLabels(of split: PuzzleSplit) throws(TRMError) {
        let n = split.seqLen
        for p in 0..<split.puzzleCount {
            for e in Int(split.puzzleIndices[p])..<Int(split.puzzleIndices[p + 1]) {
                try vote(identifier: Int(split.puzzleIdentifiers[p]), input: split.inputs[e * n ..< (e + 1) * n],
                         prediction: split.labels[e * n ..< (e + 1) * n], confidence: 1)
            }
        }
    }

    /// The voted answers for one test input, best first: most votes, then highest mean confidence, then
    /// first voted.
    package func answers(task: String, input: ARCGrid) -> [Answer] {
        guard let t = taskIndex[task] else { return [] }
        return ranked(Key(task: t, input: input))
    }

    func ranked(_ key: Key) -> [Answer] {
        guard let tally = tallies[key] else { return [] }
        return tally.sorted { a, b in
            if a.value.votes != b.value.votes { return a.value.votes > b.value.votes }
            let ma = a.value.confidenceSum / Double(a.value.votes), mb = b.value.confidenceSum / Double(b.value.votes)
            if ma != mb { return ma > mb }
            return a.value.firstSeen < b.value.firstSeen
        }.map { Answer(grid: $0.key, votes: $0.value.votes, meanConfidence: $0.value.confidenceSum / Double($0.value.votes)) }
    }

    /// Scores every test pair of every task (a pair without votes is unsolved).
    package func score(ks: [Int] = ARCScore.defaultKs) -> ARCScore {
        let scored = tasks.enumerated().map { (t, task) -> ARCScore.Task in
            var s = ARCScore.Task(id: task.id, ranks: [], votes: [], candidates: [])
            for pair in task.test {
                let answers = ranked(Key(task: t, input: pair.input))
                s.ranks.append(answers.firstIndex { $0.grid == pair.output }.map { $0 + 1 })
                s.votes.append(answers.reduce(0) { $0 + $1.votes })
                s.candidates.append(answers.count)
            }
            return s
        }
        var keys = Set<Key>()
        for (t, task) in tasks.enumerated() { for pair in task.test { keys.insert(Key(task: t, input: pair.input)) } }
        let counted = keys.reduce(0) { total, key in total + (tallies[key]?.values.reduce(0) { $0 + $1.votes } ?? 0) }
        return ARCScore(tasks: scored, ks: ks, strayVotes: voteCount - counted)
    }

    /// The Kaggle submission JSON: for each task, for each test input, its top `attempts` answers as
    /// "attempt_1", "attempt_2", ... (padded by repeating the first, an empty [[0]] when nothing was voted).
    package func submissionJSON(attempts: Int = 2) -> String {
        let tasksJSON = tasks.enumerated().map { (t, task) -> (key: String, value: ARCJSON) in
            let perPair = task.test.map { pair -> ARCJSON in
                var grids = ranked(Key(task: t, input: pair.input)).prefix(attempts).map(\.grid)
                if grids.isEmpty { grids = [ARCGrid([[0]])] }
                while grids.count < attempts { grids.append(grids[0]) }
                return .object(grids.enumerated().map { ("attempt_\($0.offset + 1)", $0.element.json) })
            }
            return (task.id, .array(perPair))
        }
        return ARCJSON.object(tasksJSON).text()
    }
}

/// What `evaluateARC` measured.
package struct ARCEvalReport: Sendable {
    package var score: ARCScore
    /// The votes, for the submission file or a closer look.
    package var evaluator: ARCEvaluator
    package var examples: Int
    package var steps: Int
    package var seconds: Double
}

/// Runs a model over an ARC test split (`steps` supervision steps, default the model's N_sup), votes the
/// final step's predictions with σ(q_halt) of that step, and scores them. Every call starts from no
/// votes, so a score is always one checkpoint's. `limit` evaluates only the first examples (a quick
/// look; tasks whose examples were skipped count as unsolved).
package func evaluateARC(model: Model, split: PuzzleSplit, identifiers: [String], testPuzzles: [ARCTask],
                        batchSize: Int = 64, options: InferenceOptions? = nil, limit: Int? = nil,
                        ks: [Int] = ARCScore.defaultKs,
                        progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws(TRMError) -> ARCEvalReport {
    let c = model.config
    guard split.seqLen == ARCEncoding.seqLen, c.seqLen == ARCEncoding.seqLen else {
        throw .invalidArgument("ARC evaluation needs 900-token examples and a 900-token model (split \(split.seqLen), model \(c.seqLen))")
    }
    guard c.vocabSize >= ARCEncoding.vocabSize else {
        throw .invalidArgument("the model's vocabulary (\(c.vocabSize)) is smaller than ARC's (\(ARCEncoding.vocabSize))")
    }
    guard split.metadata.vocabSize <= c.vocabSize else {
        throw .invalidArgument("the split's vocabulary (\(split.metadata.vocabSize)) is larger than the model's (\(c.vocabSize))")
    }
    if c.puzzleEmbLen > 0, let bad = split.puzzleIdentifiers.first(where: { Int($0) >= c.numPuzzleIdentifiers }) {
        throw .invalidArgument("puzzle identifier \(bad) is outside the model's table of \(c.numPuzzleIdentifiers); was the model trained on this dataset?")
    }
    var evaluator = try ARCEvaluator(tasks: testPuzzles, identifiers: identifiers)
    let options = options ?? InferenceOptions()
    let steps = options.steps ?? c.supervisionSteps
    let n = ARCEncoding.seqLen
    let total = min(split.exampleCount, max(0, limit ?? split.exampleCount))
    guard total > 0 else { throw .invalidArgument("no test examples to evaluate") }
    // Each example's puzzle identifier.
    var exampleIds = [Int32](repeating: 0, count: split.exampleCount)
    for p in 0..<split.puzzleCount {
        for e in Int(split.puzzleIndices[p])..<Int(split.puzzleIndices[p + 1]) { exampleIds[e] = split.puzzleIdentifiers[p] }
    }
    let predictor = try Predictor(model: model, batchSize: min(batchSize, total))
    var batchInputs = [Int32](repeating: 0, count: predictor.batchSize * n)
    let t0 = monotonicSeconds()
    var start = 0
    while start < total {
        let count = min(predictor.batchSize, total - start)
        for i in 0..<count * n { batchInputs[i] = Int32(split.inputs[start * n + i]) }
        try batchInputs.withUnsafeBufferPointer { (inputs) throws(TRMError) in
            try exampleIds.withUnsafeBufferPointer { (ids) throws(TRMError) in
                try predictor.run(inputs: inputs.baseAddress!, puzzleIds: ids.baseAddress! + start,
                                  count: count, options: options) { (r) throws(TRMError) in
                    guard r.step == steps else { return }
                    for e in 0..<count {
                        let q = Double(r.qLogits[2 * e])
                        try evaluator.vote(identifier: Int(ids[start + e]), input: inputs[e * n ..< (e + 1) * n],
                                           prediction: UnsafeBufferPointer(start: r.predictions + e * n, count: n),
                                           confidence: 1 / (1 + exp(-q)))
                    }
                }
            }
        }
        start += count
        progress?(start, total)
    }
    return ARCEvalReport(score: evaluator.score(ks: ks), evaluator: evaluator, examples: total, steps: steps,
                         seconds: monotonicSeconds() - t0)
}

/// `evaluateARC` on the test split of a dataset directory built by `buildARCDataset` (or the reference).
package func evaluateARC(model: Model, directory: String, batchSize: Int = 64, options: InferenceOptions? = nil,
                        limit: Int? = nil, ks: [Int] = ARCScore.defaultKs,
                        progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws(TRMError) -> ARCEvalReport {
    let split = try PuzzleSplit.load(directory: directory + "/test")
    let identifiers = try PuzzleDataset.loadIdentifiers(directory: directory)
    let puzzles = try ARCDataset.loadTestPuzzles(directory: directory)
    return try evaluateARC(model: model, split: split, identifiers: identifiers, testPuzzles: puzzles,
                           batchSize: batchSize, options: options, limit: limit, ks: ks, progress: progress)
}
