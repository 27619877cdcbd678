/// Examples the trainers sample from, flattened: inputs and labels are [count, seqLen] token ids, with
/// -100 in labels for ignored cells; examples sharing a group (one original puzzle and its augmented
/// versions) are listed in `groupStarts` (offsets, count + 1 entries; nil = every example its own group),
/// and the examples of one puzzle (one version, e.g. an ARC task's demonstration pairs) in `puzzleStarts`
/// (nil = every example its own puzzle). `stepTargets`, where a dataset provides them, hold each
/// example's DIS target for every supervision step: [count, stepTargetCount, seqLen].
public struct ExampleSet: Sendable {
    public var seqLen: Int
    public var inputs: [Int32]
    public var labels: [Int32]
    public var puzzleIds: [Int32]
    public var groupStarts: [Int]?
    public var puzzleStarts: [Int]?
    public var stepTargets: [Int32]?
    public var stepTargetCount = 0

    public init(seqLen: Int, inputs: [Int32], labels: [Int32], puzzleIds: [Int32]? = nil, groupStarts: [Int]? = nil,
                puzzleStarts: [Int]? = nil) {
        self.seqLen = seqLen
        self.inputs = inputs
        self.labels = labels
        self.puzzleIds = puzzleIds ?? [Int32](repeating: 0, count: inputs.count / max(1, seqLen))
        self.groupStarts = groupStarts
        self.puzzleStarts = puzzleStarts
    }

    public var count: Int { inputs.count / max(1, seqLen) }
    /// Groups the sampler visits per epoch: the groups, else the puzzles, else the examples.
    public var groupCount: Int { groupStarts.map { $0.count - 1 } ?? puzzleStarts.map { $0.count - 1 } ?? count }

    /// A 64-bit FNV-1a-style hash (one xor-multiply per value) of the sequence length, inputs, labels,
    /// puzzle ids and groups: checkpoints record it, and a resume on other examples is refused (a different
    /// dataset would silently change the run).
    public var fingerprint: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: Int64) { h = (h ^ UInt64(bitPattern: v)) &* 0x100_0000_01b3 }
        mix(Int64(seqLen))
        for v in inputs { mix(Int64(v)) }
        for v in labels { mix(Int64(v)) }
        for v in puzzleIds { mix(Int64(v)) }
        for v in groupStarts ?? [] { mix(Int64(v)) }
        // Puzzles and step targets change what is trained only where they exist (several examples to a
        // puzzle); without them the fingerprint is the one checkpoints before 0.4 recorded.
        if let p = puzzleStarts, p.count - 1 != count { for v in p { mix(Int64(v)) } }
        for v in stepTargets ?? [] { mix(Int64(v)) }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public func validate(for model: ModelConfig) throws(TRMError) {
        guard seqLen == model.seqLen else {
            throw .invalidArgument("examples have sequence length \(seqLen), the model \(model.seqLen)")
        }
        guard count > 0, inputs.count == count * seqLen, labels.count == inputs.count, puzzleIds.count == count else {
            throw .invalidArgument("inputs, labels and puzzle ids disagree in length")
        }
        if let i = inputs.firstIndex(where: { $0 < 0 || Int($0) >= model.vocabSize }) {
            throw .invalidArgument("input token \(inputs[i]) at \(i) is outside the vocabulary")
        }
        if let i = labels.firstIndex(where: { $0 != Losses.ignoreLabel && ($0 < 0 || Int($0) >= model.vocabSize) }) {
            throw .invalidArgument("label \(labels[i]) at \(i) is outside the vocabulary")
        }
        if model.puzzleEmbLen > 0, let i = puzzleIds.firstIndex(where: { $0 < 0 || Int($0) >= model.numPuzzleIdentifiers }) {
            throw .invalidArgument("puzzle id \(puzzleIds[i]) of example \(i) is outside the model's table")
        }
        if let g = groupStarts, g.first != 0 || g.last != count || zip(g, g.dropFirst()).contains(where: { $0 >= $1 }) {
            throw .invalidArgument("group offsets must rise from 0 to the example count")
        }
        if let p = puzzleStarts {
            guard p.first == 0, p.last == count, !zip(p, p.dropFirst()).contains(where: { $0 >= $1 }) else {
                throw .invalidArgument("puzzle offsets must rise from 0 to the example count")
            }
            // Every group boundary is a puzzle boundary: a group owns whole puzzles.
            if let g = groupStarts, !Set(g).isSubset(of: Set(p)) {
                throw .invalidArgument("a group boundary falls inside a puzzle")
            }
        }
        if let t = stepTargets {
            guard stepTargetCount >= 1, t.count == count * stepTargetCount * seqLen else {
                throw .invalidArgument("step targets must be [examples, steps, seq_len]")
            }
            if let i = t.firstIndex(where: { $0 != Losses.ignoreLabel && ($0 < 0 || Int($0) >= model.vocabSize) }) {
                throw .invalidArgument("step target \(t[i]) at \(i) is outside the vocabulary")
            }
        }
    }
}

/// Draws training batches as the official sampler does: each epoch visits the groups in a fresh random
/// order, draws one of the group's puzzles uniformly, and yields all of that puzzle's examples one after the
/// other, so they fill consecutive batch slots (ARC: a task version's demonstration pairs together;
/// Sudoku and Maze: one example per puzzle). Unlike the official sampler, a puzzle that does not fit in
/// the rest of a batch continues in the next one instead of losing its tail (docs/formats.md: Sampling).
/// Everything comes from one seeded RNG, and `position` can be saved and restored for an exact resume.
package struct BatchSampler: Sendable {
    package struct Position: Codable, Sendable, Equatable {
        package var epoch = 0
        package var cursor = 0
        /// RNG state at the start of the epoch (regenerates the epoch's order) and now.
        package var epochStart: [UInt64] = []
        package var current: [UInt64] = []
        /// The examples of the drawn puzzle still to yield: next ..< end (nil: none; absent before 0.4).
        package var packNext: Int?
        package var packEnd: Int?
    }

    package let examples: ExampleSet
    private var rng: RNG
    private var epochStartRNG: RNG
    private var order: [Int] = []
    private var cursor = 0
    package private(set) var epoch = 0
    /// Per group, its puzzles' offsets into `examples.puzzleStarts` ([groupCount + 1]); nil without puzzles.
    private let groupPuzzles: [Int]?
    private var packNext = 0, packEnd = 0

    package init(examples: ExampleSet, seed: UInt64) {
        self.examples = examples
        rng = RNG(seed: seed)
        epochStartRNG = rng
        groupPuzzles = Self.groupPuzzles(examples)
        startEpoch()
    }

    /// Each group's first puzzle (and the end), or nil without puzzles or when a group boundary falls
    /// inside a puzzle (ExampleSet.validate refuses that before training).
    static func groupPuzzles(_ examples: ExampleSet) -> [Int]? {
        guard let puzzles = examples.puzzleStarts else { return nil }
        guard let starts = examples.groupStarts else { return Array(0..<puzzles.count) }
        var index: [Int: Int] = [:]
        for (p, e) in puzzles.enumerated() { index[e] = p }
        let mapped = starts.compactMap { index[$0] }
        return mapped.count == starts.count ? mapped : nil
    }

    private mutating func startEpoch() {
        epochStartRNG = rng
        // Refilled in place: a new epoch allocates nothing.
        if order.count != examples.groupCount { order = Array(0..<examples.groupCount) }
        for i in order.indices { order[i] = i }
        order.shuffle(using: &rng)
        cursor = 0
    }

    /// The next example index.
    package mutating func next() -> Int {
        if packNext < packEnd {
            packNext += 1
            return packNext - 1
        }
        if cursor == order.count {
            epoch += 1
            startEpoch()
        }
        let group = order[cursor]
        cursor += 1
        if let groupPuzzles, let puzzles = examples.puzzleStarts {
            // With one example per puzzle this draws exactly what the per-example sampler before 0.4 drew.
            let lo = groupPuzzles[group], hi = groupPuzzles[group + 1]
            let p = lo + (hi - lo == 1 ? 0 : rng.below(hi - lo))
            packNext = puzzles[p] + 1
            packEnd = puzzles[p + 1]
            return puzzles[p]
        }
        guard let starts = examples.groupStarts else { return group }
        let lo = starts[group], hi = starts[group + 1]
        return lo + (hi - lo == 1 ? 0 : rng.below(hi - lo))
    }

    package var position: Position {
        Position(epoch: epoch, cursor: cursor, epochStart: Self.words(epochStartRNG), current: Self.words(rng),
                 packNext: packNext < packEnd ? packNext : nil, packEnd: packNext < packEnd ? packEnd : nil)
    }

    package mutating func restore(_ p: Position) throws(TRMError) {
        guard p.epochStart.count == 4, p.current.count == 4, p.cursor >= 0, p.cursor <= examples.groupCount,
              p.epoch >= 0, p.epoch <= 1 << 53 else {
            throw .format("bad data position in the training state")
        }
        // An all-zero xoshiro state stays zero: every draw would be rejected forever.
        guard p.epochStart.contains(where: { $0 != 0 }), p.current.contains(where: { $0 != 0 }) else {
            throw .format("the sampler's random state in the training state is all zero")
        }
        rng = Self.rng(p.epochStart)
        startEpoch()
        rng = Self.rng(p.current)
        cursor = p.cursor
        epoch = p.epoch
        packNext = 0
        packEnd = 0
        if let next = p.packNext, let end = p.packEnd {
            guard let puzzles = examples.puzzleStarts, next < end,
                  let i = puzzles.lastIndex(where: { $0 < next }), i + 1 < puzzles.count, puzzles[i + 1] == end else {
                throw .format("bad data position in the training state (inside no puzzle)")
            }
            packNext = next
            packEnd = end
        }
    }

    static func words(_ r: RNG) -> [UInt64] { [r.state.0, r.state.1, r.state.2, r.state.3] }
    static func rng(_ w: [UInt64]) -> RNG {
        var r = RNG(seed: 0)
        r.state = (w[0], w[1], w[2], w[3])
        return r
    }
}
