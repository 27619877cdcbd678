/// The part of YAML that PyYAML's `yaml.dump` writes for a configuration, read into `JSONValue`: the
/// `all_config.yaml` the official training code saves beside its checkpoints (docs/pytorch.md).
///
/// Understood: block mappings and block sequences (also PyYAML's "indentless" sequence under a key),
/// sequence items that are mappings, the flow forms `[]`, `{}` and `[a, b]`, plain scalars (null, booleans,
/// integers, floats, strings, a plain string continued on more-indented lines), single- and double-quoted
/// strings, and comments. Refused with a message: anchors, aliases, tags, block scalars (`|`, `>`),
/// tabs in indentation, a key given twice and nesting deeper than 64 levels.
package enum YAMLSubset {
    package static let maxBytes = 4 << 20

    package static func parse(_ text: String, file: String) throws(TRMError) -> JSONValue {
        guard text.utf8.count <= maxBytes else { throw .format("\(file): larger than \(maxBytes) bytes, not a configuration") }
        var reader = Reader(lines: try logicalLines(text, file: file), file: file)
        guard !reader.atEnd else { return .object([]) }
        let value = try reader.block(indent: reader.lines[0].indent, depth: 0)
        if !reader.atEnd {
            throw reader.error(reader.index, "unexpected indentation")
        }
        return value
    }

    struct Line {
        var number: Int
        var indent: Int
        var text: Substring
    }

    /// Non-blank lines with comments and the document markers removed.
    static func logicalLines(_ text: String, file: String) throws(TRMError) -> [Line] {
        var lines: [Line] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw
            if line.last == "\r" { line = line.dropLast() }
            let body = line.drop { $0 == " " }
            if body.first == "\t" { throw .format("\(file):\(i + 1): a tab in the indentation") }
            let content = stripComment(body)
            if content.isEmpty || content == "---" || content == "..." { continue }
            lines.append(Line(number: i + 1, indent: line.count - body.count, text: content))
        }
        return lines
    }

    /// The line without a trailing comment (a `#` at the start or after a space, outside quotes).
    static func stripComment(_ s: Substring) -> Substring {
        var quote: Character? = nil
        var previous: Character = " "
        for i in s.indices {
            let c = s[i]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                if previous == " " || previous == "[" || previous == "," || previous == ":" { quote = c }
            } else if c == "#" && previous == " " {
                return trimmed(s[..<i])
            }
            previous = c
        }
        return trimmed(s)
    }

    static func trimmed(_ s: Substring) -> Substring {
        var t = s
        while t.last == " " { t = t.dropLast() }
        while t.first == " " { t = t.dropFirst() }
        return t
    }

    struct Reader {
        var lines: [Line]
        var file: String
        var index = 0
        var atEnd: Bool { index >= lines.count }

        func error(_ at: Int, _ message: String) -> TRMError {
            let number = at < lines.count ? lines[at].number : (lines.last?.number ?? 0)
            return .format("\(file):\(number): \(message) (only the YAML that yaml.dump writes is read)")
        }

        static func isItem(_ s: Substring) -> Bool { s == "-" || s.hasPrefix("- ") }

        /// The mapping or sequence whose first line is the current one, at `indent`.
        mutating func block(indent: Int, depth: Int) throws(TRMError) -> JSONValue {
            guard depth < 64 else { throw error(index, "nested more than 64 levels") }
            return Reader.isItem(lines[index].text) ? try sequence(indent: indent, depth: depth)
                                                    : try mapping(indent: indent, depth: depth)
        }

        mutating func sequence(indent: Int, depth: Int) throws(TRMError) -> JSONValue {
            var items: [JSONValue] = []
            while !atEnd, lines[index].indent == indent, Reader.isItem(lines[index].text) {
                let rest = YAMLSubset.trimmed(lines[index].text.dropFirst())
                if rest.isEmpty {
                    index += 1
                    items.append(try nested(below: indent, depth: depth) ?? .null)
                } else if YAMLSubset.keyAndValue(rest) != nil {
                    // "- key: value": a mapping whose keys sit at the column after "- ".
                    let column = indent + lines[index].text.count - rest.count
                    lines[index] = Line(number: lines[index].number, indent: column, text: rest)
                    items.append(try mapping(indent: column, depth: depth + 1))
                } else {
                    items.append(try scalar(rest, parentIndent: indent))
                }
            }
            return .array(items)
        }

        mutating func mapping(indent: Int, depth: Int) throws(TRMError) -> JSONValue {
            var fields: [(key: String, value: JSONValue)] = []
            while !atEnd, lines[index].indent == indent, !Reader.isItem(lines[index].text) {
                guard let (rawKey, rawValue) = YAMLSubset.keyAndValue(lines[index].text) else {
                    throw error(index, "expected 'key: value'")
                }
                let key = try YAMLSubset.unquoted(rawKey, file: file, line: lines[index].number)
                guard !fields.contains(where: { $0.key == key }) else { throw error(index, "the key '\(key)' appears twice") }
                let value: JSONValue
                if rawValue.isEmpty {
                    index += 1
                    if !atEnd, lines[index].indent == indent, Reader.isItem(lines[index].text) {
                        value = try sequence(indent: indent, depth: depth + 1)  // PyYAML's indentless sequence
                    } else {
                        value = try nested(below: indent, depth: depth) ?? .null
                    }
                } else {
                    value = try scalar(rawValue, parentIndent: indent)
                }
                fields.append((key, value))
            }
            return .object(fields)
        }

        /// The block on the following lines when they are indented deeper than `indent`.
        mutating func nested(below indent: Int, depth: Int) throws(TRMError) -> JSONValue? {
            guard !atEnd, lines[index].indent > indent else { return nil }
            return try block(indent: lines[index].indent, depth: depth + 1)
        }

        /// A scalar or flow value starting on the current line; a plain scalar takes the more-indented
        /// lines that follow (PyYAML folds long strings that way).
        mutating func scalar(_ first: Substring, parentIndent: Int) throws(TRMError) -> JSONValue {
            let number = lines[index].number
            var text = String(first)
            index += 1
            let plain = !(first.hasPrefix("\"") || first.hasPrefix("'") || first.hasPrefix("[") || first.hasPrefix("{"))
            while plain, !atEnd, lines[index].indent > parentIndent, !Reader.isItem(lines[index].text),
                  YAMLSubset.keyAndValue(lines[index].text) == nil {
                text += " " + lines[index].text
                index += 1
            }
            return try YAMLSubset.value(Substring(text), file: file, line: number)
        }
    }

    /// "key: value" or "key:" split at the first ": " (or a final ":") outside quotes.
    static func keyAndValue(_ s: Substring) -> (Substring, Substring)? {
        var quote: Character? = nil
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if let q = quote {
                if c == q { quote = nil }
            } else if (c == "'" || c == "\"") && i == s.startIndex {
                quote = c
            } else if c == ":" {
                let next = s.index(after: i)
                if next == s.endIndex || s[next] == " " {
                    let key = trimmed(s[..<i])
                    return key.isEmpty ? nil : (key, next == s.endIndex ? "" : trimmed(s[next...]))
                }
            } else if c == "[" || c == "{" {
                return nil
            }
            i = s.index(after: i)
        }
        return nil
    }

    static func unquoted(_ s: Substring, file: String, line: Int) throws(TRMError) -> String {
        if case .string(let text) = try value(s, file: file, line: line) { return text }
        return String(s)
    }

    /// One scalar or flow collection.
    static func value(_ s: Substring, file: String, line: Int) throws(TRMError) -> JSONValue {
        func fail(_ message: String) -> TRMError { .format("\(file):\(line): \(message) (only the YAML that yaml.dump writes is read)") }
        guard let first = s.first else { return .null }
        switch first {
        case "&", "*", "!", "|", ">", "%", "@", "`":
            throw fail("'\(first)' (anchors, aliases, tags, block scalars) is not supported")
        case "'":
            guard s.count >= 2, s.last == "'" else { throw fail("an unterminated quoted string") }
            return .string(String(s.dropFirst().dropLast()).replacing("''", with: "'"))
        case "\"":
            guard s.count >= 2, s.last == "\"" else { throw fail("an unterminated quoted string") }
            return .string(try unescape(s.dropFirst().dropLast(), fail))
        case "[":
            guard s.last == "]" else { throw fail("an unterminated flow sequence") }
            let inner = trimmed(s.dropFirst().dropLast())
            if inner.isEmpty { return .array([]) }
            guard !inner.contains("[") && !inner.contains("{") && !inner.contains("\"") && !inner.contains("'") else {
                throw fail("nested or quoted flow collections are not supported")
            }
            var items: [JSONValue] = []
            for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
                items.append(try value(trimmed(part), file: file, line: line))
            }
            return .array(items)
        case "{":
            guard trimmed(s.dropFirst().dropLast()).isEmpty, s.last == "}" else { throw fail("flow mappings are not supported") }
            return .object([])
        default:
            return plain(String(s))
        }
    }

    static func unescape(_ s: Substring, _ fail: (String) -> TRMError) throws(TRMError) -> String {
        var out = ""
        var escaped = false
        for c in s {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\", "\"", "/": out.append(c)
                case "0": out.append("\u{0}")
                default: throw fail("the escape '\\\(c)' is not supported")
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// YAML 1.1's plain scalars as PyYAML resolves them: null, booleans, integers, floats, else a string.
    static func plain(_ s: String) -> JSONValue {
        switch s {
        case "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "on", "On": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "off", "Off": return .bool(false)
        case ".inf", ".Inf", "+.inf": return .number(.infinity)
        case "-.inf", "-.Inf": return .number(-.infinity)
        case ".nan", ".NaN", ".NAN": return .number(.nan)
        default: break
        }
        let digits = s.replacing("_", with: "")
        if let i = Int(digits) { return .integer(i) }
        let looksNumeric = digits.allSatisfy { "0123456789+-.eE".contains($0) } && digits.contains(where: \.isNumber)
        if looksNumeric, let d = Double(digits) { return .number(d) }
        return .string(s)
    }
}
