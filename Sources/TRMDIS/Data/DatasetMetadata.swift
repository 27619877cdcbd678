import FoundationEssentials

/// One split's `dataset.json` (docs/formats.md: Datasets), with the reference's exact JSON keys so datasets move
/// between this engine and the official PyTorch code in both directions.
///
/// Note the reference's own convention: its Sudoku and Maze builders write `total_puzzles` equal to
/// `total_groups` (the number of original puzzles), not the number of augmented versions. Our builder
/// does the same. Older HRM datasets lack `total_puzzles`; it then defaults to `total_groups`.
public struct DatasetMetadata: Codable, Equatable, Sendable {
    public var padId: Int
    public var ignoreLabelId: Int?
    public var blankIdentifierId: Int
    public var vocabSize: Int
    public var seqLen: Int
    public var numPuzzleIdentifiers: Int
    public var totalGroups: Int
    public var meanPuzzleExamples: Double
    public var totalPuzzles: Int
    public var sets: [String]

    public init(padId: Int = 0, ignoreLabelId: Int? = 0, blankIdentifierId: Int = 0, vocabSize: Int, seqLen: Int,
                numPuzzleIdentifiers: Int = 1, totalGroups: Int, meanPuzzleExamples: Double = 1,
                totalPuzzles: Int, sets: [String] = ["all"]) {
        self.padId = padId
        self.ignoreLabelId = ignoreLabelId
        self.blankIdentifierId = blankIdentifierId
        self.vocabSize = vocabSize
        self.seqLen = seqLen
        self.numPuzzleIdentifiers = numPuzzleIdentifiers
        self.totalGroups = totalGroups
        self.meanPuzzleExamples = meanPuzzleExamples
        self.totalPuzzles = totalPuzzles
        self.sets = sets
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case padId = "pad_id"
        case ignoreLabelId = "ignore_label_id"
        case blankIdentifierId = "blank_identifier_id"
        case vocabSize = "vocab_size"
        case seqLen = "seq_len"
        case numPuzzleIdentifiers = "num_puzzle_identifiers"
        case totalGroups = "total_groups"
        case meanPuzzleExamples = "mean_puzzle_examples"
        case totalPuzzles = "total_puzzles"
        case sets
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        padId = try c.decode(Int.self, forKey: .padId)
        ignoreLabelId = try c.decodeIfPresent(Int.self, forKey: .ignoreLabelId)
        blankIdentifierId = try c.decode(Int.self, forKey: .blankIdentifierId)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        seqLen = try c.decode(Int.self, forKey: .seqLen)
        numPuzzleIdentifiers = try c.decode(Int.self, forKey: .numPuzzleIdentifiers)
        totalGroups = try c.decode(Int.self, forKey: .totalGroups)
        meanPuzzleExamples = try c.decode(Double.self, forKey: .meanPuzzleExamples)
        totalPuzzles = try c.decodeIfPresent(Int.self, forKey: .totalPuzzles) ?? totalGroups
        sets = try c.decode([String].self, forKey: .sets)
    }

    /// Parses `dataset.json` bytes; `file` names the source in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(TRMError) -> DatasetMetadata {
        if let problem = JSONValue.problem(in: bytes[...]) { throw .format("\(file): not valid JSON (\(problem))") }
        do {
            return try JSONDecoder().decode(DatasetMetadata.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw .format("\(file): missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .format("\(file): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw .format("\(file): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' is null")
        } catch {
            throw .format("\(file): not valid JSON (\(error))")
        }
    }

    /// The JSON text exactly as the reference writes it (`json.dump(metadata.model_dump(), f)`): keys in
    /// declaration order, ", " and ": " separators, floats in Python's repr.
    public var jsonText: String {
        let fields: [String] = [
            "\"pad_id\": \(padId)",
            "\"ignore_label_id\": \(ignoreLabelId.map(String.init) ?? "null")",
            "\"blank_identifier_id\": \(blankIdentifierId)",
            "\"vocab_size\": \(vocabSize)",
            "\"seq_len\": \(seqLen)",
            "\"num_puzzle_identifiers\": \(numPuzzleIdentifiers)",
            "\"total_groups\": \(totalGroups)",
            "\"mean_puzzle_examples\": \(pythonFloat(meanPuzzleExamples))",
            "\"total_puzzles\": \(totalPuzzles)",
            "\"sets\": [\(sets.map(jsonQuoted).joined(separator: ", "))]",
        ]
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

/// Python's float repr for the values datasets hold: shortest round-trip digits, always with a point.
package func pythonFloat(_ x: Double) -> String {
    if x.isNaN { return "NaN" }
    if x.isInfinite { return x > 0 ? "Infinity" : "-Infinity" }
    let s = "\(x)"
    return s
}

/// A JSON string literal with Python's `json.dumps` escaping (ASCII only, \uXXXX for the rest).
package func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if u.value < 0x20 || u.value > 0x7E {
                for unit in String(u).utf16 {
                    let hex = String(unit, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}
