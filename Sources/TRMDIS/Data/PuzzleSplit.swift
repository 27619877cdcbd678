/// One split (train or test) of a dataset in the reference's layout (docs/formats.md: Datasets): examples as byte
/// tokens [exampleCount, seqLen], and two CSR offset arrays that group examples into puzzles (one
/// version with one identifier) and puzzles into groups (an original puzzle and its augmentations).
///
/// Tokens are kept as bytes, as on disk: every reference vocabulary fits (≤ 12 tokens), and the
/// Sudoku-Extreme test split (423K × 81) stays at 34 MB instead of four times that.
public struct PuzzleSplit: Equatable, Sendable {
    public var metadata: DatasetMetadata
    /// [exampleCount × seqLen] input tokens, row-major.
    public var inputs: [UInt8]
    /// [exampleCount × seqLen] label tokens, row-major.
    public var labels: [UInt8]
    /// [puzzleCount] identifier of each puzzle (an index into the puzzle-embedding table).
    public var puzzleIdentifiers: [Int32]
    /// [puzzleCount + 1] example offsets: puzzle p owns examples puzzleIndices[p] ..< puzzleIndices[p+1].
    public var puzzleIndices: [Int32]
    /// [groupCount + 1] puzzle offsets: group g owns puzzles groupIndices[g] ..< groupIndices[g+1].
    public var groupIndices: [Int32]
    /// [exampleCount × stepTargetCount × seqLen] intermediate targets (the DIS code's
    /// `all__intermediate_steps.npy`, where a dataset has one): row s−1 is the target of supervision step s.
    public var stepTargets: [UInt8]?
    public var stepTargetCount = 0

    public init(metadata: DatasetMetadata, inputs: [UInt8], labels: [UInt8], puzzleIdentifiers: [Int32],
                puzzleIndices: [Int32], groupIndices: [Int32]) {
        self.metadata = metadata
        self.inputs = inputs
        self.labels = labels
        self.puzzleIdentifiers = puzzleIdentifiers
        self.puzzleIndices = puzzleIndices
        self.groupIndices = groupIndices
    }

    /// dataset.json's `sets` name files (`<set>__inputs.npy`, ...), so they must be distinct and safe in a path:
    /// letters, digits, '_', '-' and '.', not "." or "..". Checked before any of those files is opened.
    static func checkSetNames(_ sets: [String], file: String) throws(TRMError) {
        let safe = sets.allSatisfy { name in
            !name.isEmpty && name != "." && name != ".." && name.utf8.count <= 64
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
        }
        guard !sets.isEmpty, safe, Set(sets).count == sets.count else {
            throw .format("\(file): sets \(sets) must be distinct names of letters, digits, '_', '-' and '.'")
        }
    }

    public var seqLen: Int { metadata.seqLen }
    public var exampleCount: Int { seqLen > 0 ? inputs.count / seqLen : 0 }
    public var puzzleCount: Int { puzzleIdentifiers.count }
    public var groupCount: Int { max(0, groupIndices.count - 1) }

    /// Example i's input tokens.
    public func input(_ i: Int) -> ArraySlice<UInt8> { inputs[i * seqLen ..< (i + 1) * seqLen] }
    /// Example i's label tokens.
    public func label(_ i: Int) -> ArraySlice<UInt8> { labels[i * seqLen ..< (i + 1) * seqLen] }

    /// Checks every invariant the loader and samplers rely on. `name` prefixes the file names in errors
    /// (e.g. "data/sudoku/train"), `set` names the files' set; `checkTotals` compares total_groups with the
    /// groups (off for one set of several, whose dataset.json counts them all).
    public func validate(name: String = "split", set: String = "all", checkTotals: Bool = true) throws(TRMError) {
        let m = metadata
        let json = "\(name)/dataset.json"
        guard m.seqLen >= 1 else { throw .format("\(json): seq_len must be positive (got \(m.seqLen))") }
        guard m.vocabSize >= 1 && m.vocabSize <= 256 else {
            throw .format("\(json): vocab_size \(m.vocabSize) does not fit byte tokens (1...256)")
        }
        guard m.padId >= 0 && m.padId < m.vocabSize else { throw .format("\(json): pad_id \(m.padId) is outside the vocabulary") }
        if let ignore = m.ignoreLabelId, ignore < 0 || ignore >= m.vocabSize {
            throw .format("\(json): ignore_label_id \(ignore) is outside the vocabulary")
        }
        try Self.checkSetNames(m.sets, file: json)
        guard m.numPuzzleIdentifiers >= 1 else { throw .format("\(json): num_puzzle_identifiers must be at least 1") }
        guard m.blankIdentifierId >= 0 && m.blankIdentifierId < m.numPuzzleIdentifiers else {
            throw .format("\(json): blank_identifier_id \(m.blankIdentifierId) is outside [0, num_puzzle_identifiers)")
        }

        let inputsFile = "\(name)/\(set)__inputs.npy", labelsFile = "\(name)/\(set)__labels.npy"
        guard inputs.count % m.seqLen == 0 else {
            throw .format("\(inputsFile): \(inputs.count) tokens is not a whole number of rows of seq_len \(m.seqLen)")
        }
        let n = inputs.count / m.seqLen
        guard n >= 1 else { throw .format("\(inputsFile): no examples") }
        guard labels.count == inputs.count else {
            throw .format("\(labelsFile): \(labels.count / max(1, m.seqLen)) rows but \(inputsFile) has \(n)")
        }
        if let i = inputs.firstIndex(where: { Int($0) >= m.vocabSize }) {
            throw .format("\(inputsFile): token \(inputs[i]) at example \(i / m.seqLen), position \(i % m.seqLen) is >= vocab_size \(m.vocabSize)")
        }
        if let steps = stepTargets {
            let file = "\(name)/\(set)__intermediate_steps.npy"
            guard stepTargetCount >= 1, steps.count == n * stepTargetCount * m.seqLen else {
                throw .format("\(file): \(steps.count) tokens is not [\(n) examples, steps, seq_len \(m.seqLen)]")
            }
            if let i = steps.firstIndex(where: { Int($0) >= m.vocabSize }) {
                throw .format("\(file): token \(steps[i]) is >= vocab_size \(m.vocabSize)")
            }
        }
        if let i = labels.firstIndex(where: { Int($0) >= m.vocabSize }) {
            throw .format("\(labelsFile): token \(labels[i]) at example \(i / m.seqLen), position \(i % m.seqLen) is >= vocab_size \(m.vocabSize)")
        }

        let idsFile = "\(name)/\(set)__puzzle_identifiers.npy"
        if let i = puzzleIdentifiers.firstIndex(where: { $0 < 0 || Int($0) >= m.numPuzzleIdentifiers }) {
            throw .format("\(idsFile): identifier \(puzzleIdentifiers[i]) of puzzle \(i) is outside [0, num_puzzle_identifiers) (\(m.numPuzzleIdentifiers))")
        }
        try Self.checkOffsets(puzzleIndices, entries: puzzleIdentifiers.count, total: n,
                              file: "\(name)/\(set)__puzzle_indices.npy", what: "puzzle", owned: "example",
                              entriesFile: idsFile)
        try Self.checkOffsets(groupIndices, entries: nil, total: puzzleIdentifiers.count,
                              file: "\(name)/\(set)__group_indices.npy", what: "group", owned: "puzzle",
                              entriesFile: idsFile)
        guard !checkTotals || m.totalGroups == groupCount else {
            throw .format("\(json): total_groups is \(m.totalGroups) but \(name)/all__group_indices.npy holds \(groupCount) groups")
        }
    }

    /// A CSR offset array: `entries + 1` values (when known) rising strictly from 0 to `total`: every puzzle
    /// owns at least one example and every group at least one puzzle (an empty one would be drawn and
    /// give nothing to train on).
    private static func checkOffsets(_ offsets: [Int32], entries: Int?, total: Int, file: String, what: String,
                                     owned: String, entriesFile: String) throws(TRMError) {
        if let entries, offsets.count != entries + 1 {
            throw .format("\(file): \(offsets.count) offsets, but \(entriesFile) lists \(entries) puzzles (expected \(entries + 1))")
        }
        guard let first = offsets.first else { throw .format("\(file): empty; it needs at least the leading 0") }
        guard first == 0 else { throw .format("\(file): the first offset is \(first), not 0") }
        for i in 1..<offsets.count where offsets[i] <= offsets[i - 1] {
            throw .format(offsets[i] == offsets[i - 1]
                ? "\(file): \(what) \(i - 1) is empty (offset \(offsets[i]) twice); every \(what) needs a \(owned)"
                : "\(file): offsets are not monotone (\(offsets[i - 1]) then \(offsets[i]) at \(i))")
        }
        guard Int(offsets.last!) == total else {
            throw .format("\(file): the last offset is \(offsets.last!), but there are \(total) \(owned)s (offset out of range)")
        }
    }

    /// The split as the trainers' `ExampleSet`: Int32 tokens, the ignore label mapped to -100
    /// (docs/model.md: TRM-ACT), each example's puzzle identifier, the groups and puzzles as example offsets
    /// (the sampler draws a group, then one of its puzzles, and packs all of that puzzle's examples), and the
    /// intermediate targets where the split has them (ignore label mapped the same way).
    public func exampleSet() -> ExampleSet {
        let ignore = metadata.ignoreLabelId
        let ins = inputs.map { Int32($0) }
        let labs = labels.map { (v: UInt8) -> Int32 in Int(v) == ignore ? Losses.ignoreLabel : Int32(v) }
        var ids = [Int32](repeating: Int32(metadata.blankIdentifierId), count: exampleCount)
        for p in 0..<puzzleCount {
            for e in Int(puzzleIndices[p])..<Int(puzzleIndices[p + 1]) { ids[e] = puzzleIdentifiers[p] }
        }
        let groups = groupIndices.map { Int(puzzleIndices[Int($0)]) }
        var set = ExampleSet(seqLen: seqLen, inputs: ins, labels: labs, puzzleIds: ids, groupStarts: groups,
                             puzzleStarts: puzzleIndices.map { Int($0) })
        if let stepTargets {
            set.stepTargets = stepTargets.map { (v: UInt8) -> Int32 in Int(v) == ignore ? Losses.ignoreLabel : Int32(v) }
            set.stepTargetCount = stepTargetCount
        }
        return set
    }
}
