import FoundationEssentials
import Testing
@testable import TRMDIS
#if canImport(Glibc)
import Glibc
#endif

/// The official dataset semantics (docs/formats.md: Datasets, docs/data.md): every set of a split, several
/// directories, the DIS code's intermediate steps, and the sampler that packs a drawn puzzle's examples.
@Suite struct OfficialDatasetTests {
    /// A split directory with the given sets; set k has `puzzles[k]` puzzles (in one group each) of
    /// `examples` examples, tokens counting up so every example differs, and optional intermediate steps.
    func writeSplit(_ dir: String, sets: [String], puzzles: [Int], examples: Int, seqLen: Int = 4, steps: Int? = nil,
                    ids: Int = 3) throws {
        try makeDirectory(dir)
        var groups = 0, total = 0
        for (k, set) in sets.enumerated() {
            let p = puzzles[k], n = p * examples
            var inputs: [UInt8] = [], labels: [UInt8] = []
            for e in 0..<n {
                for t in 0..<seqLen {
                    inputs.append(UInt8(1 + (k * 7 + e + t) % 5))
                    labels.append(UInt8(1 + (k * 3 + e * 2 + t) % 5))
                }
            }
            var files: [(String, NpyArray)] = [
                ("inputs", NpyArray(uint8: inputs, shape: [n, seqLen])),
                ("labels", NpyArray(uint8: labels, shape: [n, seqLen])),
                ("puzzle_identifiers", NpyArray(int32: (0..<p).map { Int32(($0 + k) % ids) }, shape: [p])),
                ("puzzle_indices", NpyArray(int32: (0...p).map { Int32($0 * examples) }, shape: [p + 1])),
                ("group_indices", NpyArray(int32: (0...p).map { Int32($0) }, shape: [p + 1])),
            ]
            if let steps {
                var rows: [UInt8] = []
                for e in 0..<n { for s in 0..<steps { for t in 0..<seqLen { rows.append(UInt8((e + s + t + k) % 6)) } } }
                files.append(("intermediate_steps", NpyArray(uint8: rows, shape: [n, steps, seqLen])))
            }
            for (name, a) in files { try writeFileAtomically("\(dir)/\(set)__\(name).npy", a.encoded()) }
            groups += p
            total += p
        }
        let meta = DatasetMetadata(padId: 0, ignoreLabelId: nil, vocabSize: 6, seqLen: seqLen, numPuzzleIdentifiers: ids,
                                   totalGroups: groups, meanPuzzleExamples: Double(examples), totalPuzzles: total, sets: sets)
        try writeFileAtomically(dir + "/dataset.json", Array(meta.jsonText.utf8))
    }

    @Test func everySetOfASplitIsRead() throws {
        let dir = dataTempDirectory("sets")
        defer { removeTree(dir) }
        try writeSplit(dir + "/train", sets: ["all", "extra"], puzzles: [2, 3], examples: 2, steps: 3)
        let split = try PuzzleSplit.load(directory: dir + "/train")
        #expect(split.exampleCount == 10 && split.puzzleCount == 5 && split.groupCount == 5)
        #expect(split.puzzleIndices == [0, 2, 4, 6, 8, 10])
        #expect(split.groupIndices == [0, 1, 2, 3, 4, 5])
        #expect(split.puzzleIdentifiers == [0, 1, 1, 2, 0])
        #expect(split.stepTargetCount == 3 && split.stepTargets?.count == 10 * 3 * 4)
        #expect(split.metadata.sets == ["all"])  // one set now, as written back
        // The second set's first example is the file's first row.
        let extra = try NpyArray.read(path: dir + "/train/extra__inputs.npy").uint8Values(file: "x")
        #expect(Array(split.input(4)) == Array(extra[0..<4]))

        // A set name that could leave the directory is refused before any file is opened.
        try writeSplit(dir + "/bad", sets: ["../x"], puzzles: [1], examples: 1)
        #expect(throws: TRMError.self) { try PuzzleSplit.load(directory: dir + "/bad") }
    }

    @Test func severalDirectoriesMergeAsTheOfficialLoader() throws {
        let dir = dataTempDirectory("paths")
        defer { removeTree(dir) }
        try writeSplit(dir + "/a/train", sets: ["all"], puzzles: [2], examples: 1, ids: 3)
        try writeSplit(dir + "/b/train", sets: ["all"], puzzles: [4], examples: 3, ids: 5)
        let merged = try PuzzleSplit.load(directories: [dir + "/a", dir + "/b"], split: "train")
        #expect(merged.exampleCount == 14 && merged.puzzleCount == 6 && merged.groupCount == 6)
        #expect(merged.metadata.numPuzzleIdentifiers == 8 && merged.metadata.totalGroups == 6)
        #expect(abs(merged.metadata.meanPuzzleExamples - (1.0 * 2 + 3.0 * 4) / 6) < 1e-12)
        #expect(merged.puzzleIndices == [0, 1, 2, 5, 8, 11, 14])
        #expect(merged.puzzleIdentifiers == [0, 1, 0, 1, 2, 3])  // kept as stored
        try writeSplit(dir + "/c/train", sets: ["all"], puzzles: [1], examples: 1, seqLen: 5)
        do {
            _ = try PuzzleSplit.load(directories: [dir + "/a", dir + "/c"], split: "train")
            Issue.record("directories of different seq_len merged")
        } catch {
            #expect("\(error)".contains("seq_len"))
        }
    }

    @Test func theSamplerPacksAPuzzlesExamples() throws {
        // 4 groups of 1 puzzle x 3 examples: every draw yields a whole puzzle, consecutively.
        let examples = ExampleSet(seqLen: 1, inputs: (0..<12).map { Int32($0 % 4) }, labels: [Int32](repeating: 1, count: 12),
                                  groupStarts: [0, 3, 6, 9, 12], puzzleStarts: [0, 3, 6, 9, 12])
        var sampler = BatchSampler(examples: examples, seed: 3)
        var drawn: [Int] = []
        for _ in 0..<24 { drawn.append(sampler.next()) }
        for chunk in stride(from: 0, to: 24, by: 3) {
            let first = drawn[chunk]
            #expect(first % 3 == 0 && drawn[chunk + 1] == first + 1 && drawn[chunk + 2] == first + 2)
        }
        #expect(Set(drawn[0..<12]) == Set(0..<12))  // one epoch: every puzzle once

        // A position saved inside a puzzle resumes there.
        var a = BatchSampler(examples: examples, seed: 9)
        _ = a.next()
        let saved = a.position
        #expect(saved.packNext != nil)
        var b = BatchSampler(examples: examples, seed: 1)
        try b.restore(saved)
        for _ in 0..<10 { #expect(a.next() == b.next()) }
        var bad = saved
        bad.packNext = 1
        bad.packEnd = 5  // not a puzzle's end
        #expect(throws: TRMError.self) { try b.restore(bad) }
    }

    @Test func onePuzzlePerExampleDrawsAsBefore() {
        // Sudoku/Maze shape: groups of several one-example puzzles. The draws equal the per-example sampler's.
        let n = 20
        let plain = ExampleSet(seqLen: 1, inputs: [Int32](repeating: 0, count: n), labels: [Int32](repeating: 1, count: n),
                               groupStarts: [0, 4, 9, 15, 20])
        var withPuzzles = plain
        withPuzzles.puzzleStarts = Array(0...n)
        var a = BatchSampler(examples: plain, seed: 5), b = BatchSampler(examples: withPuzzles, seed: 5)
        for _ in 0..<60 { #expect(a.next() == b.next()) }
        #expect(plain.fingerprint == withPuzzles.fingerprint)  // old checkpoints resume on such data
    }

    @Test func datasetStepTargetsAreUsedRowByRow() throws {
        let dir = dataTempDirectory("steps")
        defer { removeTree(dir) }
        try writeSplit(dir + "/train", sets: ["all"], puzzles: [5], examples: 1, steps: 4)
        let examples = try PuzzleSplit.load(directory: dir + "/train").exampleSet()
        var config = ModelConfig(vocabSize: 6, seqLen: 4, puzzleEmbLen: 1, numPuzzleIdentifiers: 3, hiddenSize: 16, numHeads: 2,
                                 numLayers: 1, hCycles: 1, lCycles: 2, supervisionSteps: 4, timeEmbedding: true)
        var tc = TrainingConfig()
        tc.batchSize = 3
        tc.corruption = .dataset
        let trainer = try Trainer(model: try Model(config: config), examples: examples, config: tc)
        for slot in 0..<3 { trainer.load(example: slot + 1, into: slot) }
        trainer.dis!.drawRevealOrders(examples: examples, batchExamples: trainer.batchExamples, globalBatch: 3,
                                      slice: trainer.slice, rng: &trainer.rng)
        for s in 1...4 {
            trainer.dis!.build(step: s, inputs: trainer.inputs, labels: trainer.labels, examples: examples)
            for slot in 0..<3 {
                let row = Array(examples.stepTargets![((slot + 1) * 4 + (s - 1)) * 4 ..< ((slot + 1) * 4 + s) * 4])
                #expect(Array(UnsafeBufferPointer(start: trainer.dis!.targets + slot * 4, count: 4)) == row)
            }
        }
        // 4 rows fit N_sup 4 (row s−1 for step s) or N_sup 3 (row s: path[0] first); N_sup 6 is refused with the reason.
        config.supervisionSteps = 6
        do {
            _ = try Trainer(model: try Model(config: config), examples: examples, config: tc)
            Issue.record("accepted 4 rows for N_sup 6")
        } catch {
            #expect("\(error)".contains("4 rows"))
        }
        let plain = ExampleSet(seqLen: 4, inputs: examples.inputs, labels: examples.labels)
        #expect(throws: TRMError.self) { try Trainer(model: try Model(config: config), examples: plain, config: tc) }
    }
}
