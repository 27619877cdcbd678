#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// A dataset directory in the reference's layout (docs/formats.md: Datasets):
///
///     identifiers.json                 ["<blank>", ...]  identifier id → name
///     {train,test}/dataset.json        DatasetMetadata
///     {train,test}/all__inputs.npy     [N, seq_len] uint8
///     {train,test}/all__labels.npy     [N, seq_len] uint8
///     {train,test}/all__puzzle_identifiers.npy  [P] int32
///     {train,test}/all__puzzle_indices.npy      [P+1] int32
///     {train,test}/all__group_indices.npy       [G+1] int32
///
/// Directories written by the official builders load here, and directories written here load in the
/// official code: the files are byte-compatible (the set name is always "all").
public struct PuzzleDataset: Equatable, Sendable {
    public var train: PuzzleSplit
    public var test: PuzzleSplit
    /// Identifier id → name; "<blank>" at 0.
    public var identifiers: [String]

    public init(train: PuzzleSplit, test: PuzzleSplit, identifiers: [String] = ["<blank>"]) {
        self.train = train
        self.test = test
        self.identifiers = identifiers
    }

    static let arrayNames = ["inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"]

    /// Loads and validates both splits. Every error names the file at fault.
    public static func load(directory: String) throws(TRMError) -> PuzzleDataset {
        let identifiers = try loadIdentifiers(directory: directory)
        let train = try PuzzleSplit.load(directory: directory + "/train")
        let test = try PuzzleSplit.load(directory: directory + "/test")
        return PuzzleDataset(train: train, test: test, identifiers: identifiers)
    }

    /// identifiers.json is for display only, so a missing file reads as ["<blank>"]; a malformed one is
    /// still an error.
    package static func loadIdentifiers(directory: String) throws(TRMError) -> [String] {
        let path = directory + "/identifiers.json"
        guard access(path, F_OK) == 0 else { return ["<blank>"] }
        let bytes = try readFile(path)
        do {
            return try JSONDecoder().decode([String].self, from: Data(bytes))
        } catch {
            throw .format("\(path): expected a JSON list of identifier names (\(error))")
        }
    }

    /// Writes the dataset after validating it. Every file is staged under a temporary name and renamed
    /// into place only when all are complete, so a failure never leaves a half-written file.
    /// `extraFiles` (names relative to `directory`, e.g. ARC's test_puzzles.json) are committed with them.
    public func write(directory: String, extraFiles: [(name: String, bytes: [UInt8])] = []) throws(TRMError) {
        try train.validate(name: directory + "/train")
        try test.validate(name: directory + "/test")
        try makeDirectory(directory + "/train")
        try makeDirectory(directory + "/test")
        var files = StagedFiles()
        try train.stage(into: &files, directory: directory + "/train")
        try test.stage(into: &files, directory: directory + "/test")
        let ids = "[" + identifiers.map(jsonQuoted).joined(separator: ", ") + "]"
        try files.stage(directory + "/identifiers.json", Array(ids.utf8))
        for f in extraFiles { try files.stage(directory + "/" + f.name, f.bytes) }
        try files.commit()
    }
}

extension PuzzleSplit {
    /// Loads one split directory (e.g. `data/sudoku/test`) and validates it: every set its dataset.json
    /// lists (`<set>__inputs.npy`, ...; the builders write one, "all"), concatenated in that order, with
    /// `<set>__intermediate_steps.npy` where every set has one.
    public static func load(directory: String) throws(TRMError) -> PuzzleSplit {
        let jsonPath = directory + "/dataset.json"
        let metadata = try DatasetMetadata.decode(try readFile(jsonPath), file: jsonPath)
        try checkSetNames(metadata.sets, file: jsonPath)
        var parts: [PuzzleSplit] = []
        for set in metadata.sets {
            let part = try loadSet(directory: directory, set: set, metadata: metadata)
            try part.validate(name: directory, set: set, checkTotals: metadata.sets.count == 1)
            parts.append(part)
        }
        var split = try concatenate(parts, name: directory)
        split.metadata = metadata
        split.metadata.sets = ["all"]  // one set now, as it is written back
        guard metadata.totalGroups == split.groupCount else {
            throw .format("\(jsonPath): total_groups is \(metadata.totalGroups) but its sets \(metadata.sets) hold \(split.groupCount) groups")
        }
        return split
    }

    /// One set's arrays, checked for shape.
    static func loadSet(directory: String, set: String, metadata: DatasetMetadata) throws(TRMError) -> PuzzleSplit {
        func array(_ name: String) throws(TRMError) -> (NpyArray, String) {
            let path = "\(directory)/\(set)__\(name).npy"
            return (try NpyArray.read(path: path), path)
        }
        let (inputs, inputsPath) = try array("inputs")
        let (labels, labelsPath) = try array("labels")
        guard inputs.shape.count == 2, inputs.shape[1] == metadata.seqLen else {
            throw .format("\(inputsPath): shape \(inputs.shape) is not [N, seq_len=\(metadata.seqLen)]")
        }
        guard labels.shape == inputs.shape else {
            throw .format("\(labelsPath): shape \(labels.shape) does not match \(inputsPath) \(inputs.shape)")
        }
        var oneDimensional: [[Int32]] = []
        for name in ["puzzle_identifiers", "puzzle_indices", "group_indices"] {
            let (a, path) = try array(name)
            guard a.shape.count == 1 else { throw .format("\(path): shape \(a.shape) is not one-dimensional") }
            oneDimensional.append(try a.int32Values(file: path))
        }
        var split = PuzzleSplit(metadata: metadata,
                                inputs: try inputs.uint8Values(file: inputsPath),
                                labels: try labels.uint8Values(file: labelsPath),
                                puzzleIdentifiers: oneDimensional[0],
                                puzzleIndices: oneDimensional[1],
                                groupIndices: oneDimensional[2])
        let stepsPath = "\(directory)/\(set)__intermediate_steps.npy"
        if access(stepsPath, F_OK) == 0 {
            let steps = try NpyArray.read(path: stepsPath)
            guard steps.shape.count == 3, steps.shape[0] == inputs.shape[0], steps.shape[2] == metadata.seqLen else {
                throw .format("\(stepsPath): shape \(steps.shape) is not [N=\(inputs.shape[0]), steps, seq_len=\(metadata.seqLen)]")
            }
            split.stepTargets = try steps.uint8Values(file: stepsPath)
            split.stepTargetCount = steps.shape[1]
        }
        return split
    }

    /// Stages this split's six files: `|u1` tokens and `<i4` offsets, as the reference's builders save them.
    func stage(into files: inout StagedFiles, directory: String) throws(TRMError) {
        let n = exampleCount
        let arrays: [(String, NpyArray)] = [
            ("inputs", NpyArray(uint8: inputs, shape: [n, seqLen])),
            ("labels", NpyArray(uint8: labels, shape: [n, seqLen])),
            ("puzzle_identifiers", NpyArray(int32: puzzleIdentifiers, shape: [puzzleIdentifiers.count])),
            ("puzzle_indices", NpyArray(int32: puzzleIndices, shape: [puzzleIndices.count])),
            ("group_indices", NpyArray(int32: groupIndices, shape: [groupIndices.count])),
        ]
        try files.stage(directory + "/dataset.json", Array(metadata.jsonText.utf8))
        for (name, array) in arrays { try files.stage("\(directory)/all__\(name).npy", array.encoded()) }
    }
}
