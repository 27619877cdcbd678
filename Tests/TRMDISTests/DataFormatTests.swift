import Testing
@testable import TRMDIS
@testable import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// A fresh empty directory under /tmp for one test.
func dataTempDirectory(_ tag: String) -> String {
    var template = Array("/tmp/trmdis-data-\(tag)-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    return path
}

/// The fixture directory beside this source file (declared as a test resource in Package.swift; found
/// through #filePath so the tests need no Foundation).
func fixturePath(_ name: String, file: String = #filePath) -> String {
    let dir = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return dir + "/Fixtures/" + name
}

/// Runs `body`, expects a TRMError, and checks its message mentions every fragment.
func expectDataError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error mentioning \(fragments)", sourceLocation: sourceLocation)
    } catch let error as TRMError {
        for f in fragments {
            #expect(error.description.contains(f), "error '\(error.description)' does not mention '\(f)'",
                    sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a TRMError, got \(error)", sourceLocation: sourceLocation)
    }
}

func copyFile(_ from: String, _ to: String) throws {
    try writeFileAtomically(to, try readFile(from))
}

@Suite struct DataFormatTests {
    /// Our .npy writer produces NumPy's exact bytes (headers checked against np.save output).
    @Test func npyHeaderMatchesNumPy() throws {
        let u8 = NpyArray(uint8: [UInt8](repeating: 0, count: 3 * 81), shape: [3, 81]).encoded()
        let expectedU8 = "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 81), }"
            + String(repeating: " ", count: 57) + "\n"
        #expect(Array(u8[0..<10]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 118, 0])
        #expect(String(decoding: u8[10..<128], as: UTF8.self) == expectedU8)
        #expect(u8.count == 128 + 243)
        let i4 = NpyArray(int32: [0, 1, 2, 3], shape: [4]).encoded()
        #expect(String(decoding: i4[10..<128], as: UTF8.self)
                == "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }" + String(repeating: " ", count: 60) + "\n")
        #expect(Array(i4[128...]) == [0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])
        let back = try NpyArray.decode(i4, file: "x.npy")
        #expect(back.shape == [4])
        #expect(try back.int32Values(file: "x.npy") == [0, 1, 2, 3])
    }

    @Test func npyReadsWiderAndNarrowerIntegerTypes() throws {
        func file(_ descr: String, _ shape: String, _ data: [UInt8]) -> [UInt8] {
            var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }\n".utf8)
            while (10 + header.count) % 64 != 0 { header.insert(0x20, at: header.count - 1) }
            return NpyArray.magic + [1, 0, UInt8(header.count), 0] + header + data
        }
        let i8 = try NpyArray.decode(file("<i8", "(2,)", [5, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]), file: "a.npy")
        #expect(try i8.uint8Values(file: "a.npy") == [5, 7])
        let u2 = try NpyArray.decode(file("<u2", "(1, 2)", [1, 1, 2, 0]), file: "b.npy")
        #expect(try u2.int32Values(file: "b.npy") == [257, 2])
        expectDataError(["b.npy", "257"]) { _ = try u2.uint8Values(file: "b.npy") }
        let i1 = try NpyArray.decode(file("|i1", "(2,)", [0xFF, 3]), file: "c.npy")
        #expect(try i1.int32Values(file: "c.npy") == [-1, 3])
        expectDataError(["d.npy", "'<f4'"]) { _ = try NpyArray.decode(file("<f4", "(1,)", [0, 0, 0, 0]), file: "d.npy") }
        expectDataError(["e.npy", "'>i4'"]) { _ = try NpyArray.decode(file(">i4", "(1,)", [0, 0, 0, 0]), file: "e.npy") }
        expectDataError(["f.npy", "truncated"]) { _ = try NpyArray.decode(file("<i4", "(3,)", [0, 0, 0, 0]), file: "f.npy") }
        expectDataError(["g.npy", "not a .npy"]) { _ = try NpyArray.decode(Array("hello world".utf8), file: "g.npy") }
    }

    /// write → load gives identical arrays and metadata, and a second write replaces the first.
    @Test func datasetRoundTrip() throws {
        let d = try buildDataset(task: .sudoku(boxRows: 2, boxCols: 2), trainCount: 5, testCount: 4, augmentations: 2, seed: 11)
        let dir = dataTempDirectory("roundtrip")
        try d.write(directory: dir)
        let back = try PuzzleDataset.load(directory: dir)
        #expect(back == d)
        #expect(back.train.exampleCount == 15)
        #expect(back.train.groupIndices == [0, 3, 6, 9, 12, 15])
        #expect(back.test.exampleCount == 4)
        let other = try buildDataset(task: .nqueens(size: 6), trainCount: 3, testCount: 2, seed: 1)
        try other.write(directory: dir)
        #expect(try PuzzleDataset.load(directory: dir) == other)
        // No temporaries are left behind.
        for sub in ["", "/train", "/test"] {
            let d = opendir(dir + sub)!
            defer { closedir(d) }
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                #expect(!name.contains(".tmp."), "left-over temporary \(name)")
            }
        }
    }

    /// Every kind of damage is reported with the file at fault.
    @Test func malformedDatasetsNameTheFile() throws {
        let good = try buildDataset(task: .sudoku(boxRows: 2, boxCols: 2), trainCount: 3, testCount: 2, seed: 3)
        let dir = dataTempDirectory("malformed")
        try good.write(directory: dir)
        let train = dir + "/train"

        func damaged(_ file: String, _ bytes: [UInt8], _ fragments: [String]) throws {
            let path = "\(train)/\(file)"
            let original = try readFile(path)
            try writeFileAtomically(path, bytes)
            expectDataError([path] + fragments) { _ = try PuzzleDataset.load(directory: dir) }
            try writeFileAtomically(path, original)
        }
        let inputs = try readFile(train + "/all__inputs.npy")
        // Truncated .npy (data cut short; header cut short).
        try damaged("all__inputs.npy", Array(inputs.dropLast(5)), ["truncated"])
        try damaged("all__inputs.npy", Array(inputs.prefix(40)), ["truncated"])
        // Wrong dtype.
        let labels = try readFile(train + "/all__labels.npy")
        try damaged("all__labels.npy", labels.replacing(Array("'|u1'".utf8), with: Array("'<f4'".utf8)), ["unsupported dtype '<f4'"])
        // Mismatched lengths: labels with a different row count; identifiers vs offsets.
        try damaged("all__labels.npy", NpyArray(uint8: [UInt8](repeating: 2, count: 2 * 16), shape: [2, 16]).encoded(), ["does not match"])
        try damaged("all__puzzle_identifiers.npy", NpyArray(int32: [0, 0], shape: [2]).encoded(), ["all__puzzle_indices.npy"])
        // CSR offsets: not monotone, out of range.
        try damaged("all__puzzle_indices.npy", NpyArray(int32: [0, 2, 1, 3], shape: [4]).encoded(), ["not monotone"])
        try damaged("all__group_indices.npy", NpyArray(int32: [0, 1, 2, 7], shape: [4]).encoded(), ["out of range"])
        // Tokens out of range.
        var bad = good.train.inputs
        bad[17] = 6
        try damaged("all__inputs.npy", NpyArray(uint8: bad, shape: [3, 16]).encoded(), ["token 6", ">= vocab_size 6", "example 1"])
        // Bad JSON, missing field.
        try damaged("dataset.json", Array("{\"pad_id\": 0,".utf8), ["not valid JSON"])
        try damaged("dataset.json", Array(good.train.metadata.jsonText.replacing("\"seq_len\": 16, ", with: "").utf8), ["seq_len"])
        // identifiers.json must be a list of strings.
        let ids = dir + "/identifiers.json"
        try writeFileAtomically(ids, Array("{\"a\": 1}".utf8))
        expectDataError([ids]) { _ = try PuzzleDataset.load(directory: dir) }
        // Missing file.
        expectDataError([dir + "/nope/dataset.json"]) { _ = try PuzzleSplit.load(directory: dir + "/nope") }
    }

    /// Invalid datasets are refused before anything is written.
    @Test func writeValidatesFirst() throws {
        var d = try buildDataset(task: .nqueens(size: 4), trainCount: 2, testCount: 1, seed: 2)
        d.train.inputs[0] = 9
        let dir = dataTempDirectory("refuse")
        expectDataError(["all__inputs.npy", "token 9"]) { try d.write(directory: dir) }
        #expect(access(dir + "/train/dataset.json", F_OK) != 0)
    }

    /// A dataset made by the reference's own builder code (Fixtures/make_sudoku_fixture.py) loads, with
    /// the values the builder wrote. Its augmented train split is int64: the builder's digit map is an
    /// int64 array, so `np.concatenate` promotes the whole split.
    @Test func officialFixtureLoads() throws {
        let dir = fixturePath("sudoku-official")
        let d = try PuzzleDataset.load(directory: dir)
        #expect(d.identifiers == ["<blank>"])
        #expect(d.train.metadata == DatasetMetadata(vocabSize: 11, seqLen: 81, totalGroups: 1, totalPuzzles: 1))
        #expect(d.train.exampleCount == 3 && d.train.groupIndices == [0, 3] && d.train.puzzleIndices == [0, 1, 2, 3])
        #expect(d.test.exampleCount == 2 && d.test.groupIndices == [0, 1, 2])
        #expect(try NpyArray.read(path: dir + "/train/all__inputs.npy").dtype == .i8)
        #expect(try NpyArray.read(path: dir + "/test/all__inputs.npy").dtype == .u1)
        let wiki = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
        #expect(Array(d.train.input(0)) == wiki.utf8.map { $0 == UInt8(ascii: ".") ? 1 : $0 - 47 })
        // Every puzzle, augmented ones included, is solved by its label and has one solution.
        let shape = try SudokuShape(boxRows: 3, boxCols: 3)
        for split in [d.train, d.test] {
            for i in 0..<split.exampleCount {
                #expect(SudokuChecker.check(puzzle: split.input(i), prediction: split.label(i), shape: shape).solved)
                let r = SudokuSolver(shape: shape).solve(tokens: split.input(i))
                #expect(r.count == 1 && r.solution!.map { $0 + 1 } == Array(split.label(i)))
            }
        }
    }

    /// Files written here have the fixture's layout: the same file set, fields, dtypes and shapes; the
    /// non-augmented test split comes out byte for byte identical (only the train tokens differ in
    /// dtype, our |u1 against the builder's accidental int64).
    @Test func writtenFilesMatchTheFixture() throws {
        let src = fixturePath("sudoku-official")
        let d = try PuzzleDataset.load(directory: src)
        let dir = dataTempDirectory("fixture")
        try d.write(directory: dir)
        #expect(try readFile(dir + "/identifiers.json") == readFile(src + "/identifiers.json"))
        for split in ["train", "test"] {
            #expect(try readFile("\(dir)/\(split)/dataset.json") == readFile("\(src)/\(split)/dataset.json"))
            for name in PuzzleDataset.arrayNames {
                let ours = try NpyArray.read(path: "\(dir)/\(split)/all__\(name).npy")
                let theirs = try NpyArray.read(path: "\(src)/\(split)/all__\(name).npy")
                #expect(ours.shape == theirs.shape, "\(split)/\(name)")
                let tokens = name == "inputs" || name == "labels"
                #expect(ours.dtype == (tokens ? .u1 : .i4), "\(split)/\(name)")
                if split == "test" || !tokens {
                    #expect(try readFile("\(dir)/\(split)/all__\(name).npy") == readFile("\(src)/\(split)/all__\(name).npy"),
                            "\(split)/\(name) differs from np.save's bytes")
                } else {
                    #expect(try ours.int32Values(file: "") == theirs.int32Values(file: ""))
                }
            }
        }
    }

    /// HRM-era dataset.json files have no total_puzzles (it then equals total_groups) and may have a
    /// null ignore_label_id; both decode, and our JSON text is what Python's json.dump writes.
    @Test func metadataJSON() throws {
        let hrm = #"{"pad_id": 0, "ignore_label_id": null, "blank_identifier_id": 0, "vocab_size": 6, "seq_len": 900, "num_puzzle_identifiers": 1, "total_groups": 1000, "mean_puzzle_examples": 1.0, "sets": ["all"]}"#
        let m = try DatasetMetadata.decode(Array(hrm.utf8), file: "hrm.json")
        #expect(m.totalPuzzles == 1000 && m.ignoreLabelId == nil && m.seqLen == 900)
        #expect(m.jsonText == hrm.replacing(#""sets""#, with: #""total_puzzles": 1000, "sets""#))
        var arc = m
        arc.meanPuzzleExamples = 4.15
        #expect(arc.jsonText.contains(#""mean_puzzle_examples": 4.15,"#))
        expectDataError(["x.json", "vocab_size"]) {
            _ = try DatasetMetadata.decode(Array(hrm.replacing(#""vocab_size": 6"#, with: #""vocab_size": "6""#).utf8), file: "x.json")
        }
    }

    /// The split converts to the trainers' examples: ignore label → −100, groups as example offsets.
    @Test func exampleSetConversion() throws {
        var d = try buildDataset(task: .maze(size: 7), trainCount: 2, testCount: 1, augmentations: 3, seed: 5)
        d.train.metadata.ignoreLabelId = Int(MazeToken.wall)  // pretend walls are not scored
        let e = d.train.exampleSet()
        #expect(e.count == 8 && e.seqLen == 49)
        #expect(e.groupStarts == [0, 4, 8])
        #expect(e.labels.contains(-100) && !e.labels.contains(1))
        #expect(e.puzzleIds == [Int32](repeating: 0, count: 8))
    }
}
