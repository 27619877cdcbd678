/// Several sets of one split, and one split of several dataset directories, as one split (docs/formats.md:
/// Datasets). The official loader reads every set of `dataset.json` and every directory of `data_paths`;
/// here they are concatenated: examples, puzzles and groups in order, offsets shifted, puzzle identifiers
/// kept as stored (as the official loader keeps them).
extension PuzzleSplit {
    /// The same split of every directory in `directories`, merged as the official loader merges
    /// `data_paths`: seq_len, vocab_size, pad_id, ignore_label_id and blank_identifier_id must agree;
    /// num_puzzle_identifiers, total_groups and total_puzzles add up; mean_puzzle_examples is the mean
    /// weighted by total_puzzles.
    public static func load(directories: [String], split: String) throws(TRMError) -> PuzzleSplit {
        guard !directories.isEmpty else { throw .invalidArgument("no dataset directory given") }
        var parts: [PuzzleSplit] = []
        for directory in directories { parts.append(try load(directory: directory + "/" + split)) }
        guard parts.count > 1 else { return parts[0] }
        let first = parts[0].metadata
        var merged = first
        merged.numPuzzleIdentifiers = 0
        merged.totalGroups = 0
        merged.totalPuzzles = 0
        var weightedExamples = 0.0
        for (directory, part) in zip(directories, parts) {
            let m = part.metadata
            let same: [(String, Int?, Int?)] = [
                ("seq_len", m.seqLen, first.seqLen), ("vocab_size", m.vocabSize, first.vocabSize), ("pad_id", m.padId, first.padId),
                ("ignore_label_id", m.ignoreLabelId, first.ignoreLabelId),
                ("blank_identifier_id", m.blankIdentifierId, first.blankIdentifierId),
            ]
            if let (key, a, b) = same.first(where: { $0.1 != $0.2 }) {
                throw .format("\(directory)/\(split)/dataset.json: \(key) is \(a.map(String.init) ?? "null"), but "
                    + "\(directories[0]) has \(b.map(String.init) ?? "null"); directories trained together must agree")
            }
            merged.numPuzzleIdentifiers += m.numPuzzleIdentifiers
            merged.totalGroups += m.totalGroups
            merged.totalPuzzles += m.totalPuzzles
            weightedExamples += m.meanPuzzleExamples * Double(m.totalPuzzles)
        }
        merged.meanPuzzleExamples = merged.totalPuzzles > 0 ? weightedExamples / Double(merged.totalPuzzles) : 0
        var split = try concatenate(parts, name: directories.joined(separator: ", "))
        split.metadata = merged
        return split
    }

    /// `parts` one after the other; their metadata must fix the same grid (the first part's is kept).
    /// Intermediate targets survive only when every part has them, with the same number of steps.
    static func concatenate(_ parts: [PuzzleSplit], name: String) throws(TRMError) -> PuzzleSplit {
        guard var out = parts.first else { throw .format("\(name): no sets") }
        guard parts.count > 1 else { return out }
        let steps = parts.allSatisfy({ $0.stepTargets != nil && $0.stepTargetCount == out.stepTargetCount })
        for part in parts.dropFirst() {
            let examples = Int32(out.exampleCount), puzzles = Int32(out.puzzleCount)
            guard Int(examples) + part.exampleCount <= Int(Int32.max), Int(puzzles) + part.puzzleCount <= Int(Int32.max) else {
                throw .format("\(name): more than 2^31 examples or puzzles")
            }
            out.inputs += part.inputs
            out.labels += part.labels
            out.puzzleIdentifiers += part.puzzleIdentifiers
            out.puzzleIndices += part.puzzleIndices.dropFirst().map { $0 + examples }
            out.groupIndices += part.groupIndices.dropFirst().map { $0 + puzzles }
            if steps { out.stepTargets! += part.stepTargets! }
        }
        if !steps {
            out.stepTargets = nil
            out.stepTargetCount = 0
        }
        return out
    }
}
