/// A small strict JSON reader (RFC 8259). It keeps object keys in file order, tells integers from other
/// numbers (an ARC colour must be an integer literal), refuses nesting deeper than 256 levels and an object
/// naming one key twice (decoders differ on which one wins: Foundation keeps the first, Python and the
/// safetensors library the last, so such a file would mean one thing here and another elsewhere), and
/// reports errors with the line and column, which a generic decoder does not. Used for safetensors headers,
/// dataset.json and the ARC task files (docs/engine.md, "Threat model and guarantees").
package enum JSONValue: Equatable, Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    /// A number written without fraction or exponent that fits an Int.
    case integer(Int)
    case number(Double)
    case string(String)
    case bool(Bool)
    case null

    package static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(x), .array(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// The value of `key` in an object (nil for other values or a missing key).
    package subscript(key: String) -> JSONValue? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.key == key }?.value
    }

    /// "an object", "an array", ... for error messages.
    package var kind: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    /// Parses a whole document; `file` names the source in errors ("f: malformed JSON at line 2, ...").
    package static func parse(_ bytes: ArraySlice<UInt8>, file: String) throws(TRMError) -> JSONValue {
        do throws(Parser.Failure) {
            return try document(bytes)
        } catch {
            throw .format("\(file): malformed JSON at \(error.place): \(error.message)")
        }
    }

    package static func parse(_ bytes: [UInt8], file: String) throws(TRMError) -> JSONValue {
        try parse(bytes[...], file: file)
    }

    /// nil if `bytes` is one acceptable JSON value, else where and what is wrong ("line 1, column 14: ...").
    package static func problem(in bytes: ArraySlice<UInt8>) -> String? {
        do throws(Parser.Failure) {
            _ = try document(bytes)
            return nil
        } catch {
            return "\(error.place): \(error.message)"
        }
    }

    private static func document(_ bytes: ArraySlice<UInt8>) throws(Parser.Failure) -> JSONValue {
        var p = Parser(bytes: Array(bytes))
        p.skipSpace()
        let value = try p.value(depth: 0)
        p.skipSpace()
        guard p.at == p.bytes.count else { throw p.error("unexpected text after the JSON value") }
        return value
    }

    private struct Parser {
        struct Failure: Error {
            let place: String
            let message: String
        }

        let bytes: [UInt8]
        var at = 0

        func error(_ message: String) -> Failure {
            var line = 1, column = 1
            for b in bytes[0..<min(at, bytes.count)] {
                if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            }
            return Failure(place: "line \(line), column \(column)", message: message)
        }

        var current: UInt8? { at < bytes.count ? bytes[at] : nil }

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func expect(_ literal: String, _ value: JSONValue) throws(Failure) -> JSONValue {
            for u in literal.utf8 {
                guard current == u else { throw error("invalid literal (expected '\(literal)')") }
                at += 1
            }
            return value
        }

        mutating func value(depth: Int) throws(Failure) -> JSONValue {
            guard depth < 256 else { throw error("nesting deeper than 256 levels") }
            guard let c = current else { throw error("unexpected end of file") }
            switch c {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character '\(printable(c))'")
            }
        }

        mutating func object(depth: Int) throws(Failure) -> JSONValue {
            at += 1
            var fields: [(key: String, value: JSONValue)] = []
            var keys = Set<String>()
            skipSpace()
            if current == UInt8(ascii: "}") { at += 1; return .object(fields) }
            while true {
                skipSpace()
                guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let keyStart = at
                let key = try string()
                guard keys.insert(key).inserted else {
                    at = keyStart
                    throw error("duplicate key \"\(key)\"")
                }
                skipSpace()
                guard current == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
                at += 1
                skipSpace()
                fields.append((key, try value(depth: depth + 1)))
                skipSpace()
                switch current {
                case UInt8(ascii: ","): at += 1
                case UInt8(ascii: "}"): at += 1; return .object(fields)
                case nil: throw error("unexpected end of file inside an object")
                default: throw error("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws(Failure) -> JSONValue {
            at += 1
            var items: [JSONValue] = []
            skipSpace()
            if current == UInt8(ascii: "]") { at += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                switch current {
                case UInt8(ascii: ","): at += 1
                case UInt8(ascii: "]"): at += 1; return .array(items)
                case nil: throw error("unexpected end of file inside an array")
                default: throw error("expected ',' or ']'")
                }
            }
        }

        mutating func number() throws(Failure) -> JSONValue {
            let start = at
            if current == UInt8(ascii: "-") { at += 1 }
            func digits(_ p: inout Parser) -> Int {
                let s = p.at
                while let c = p.current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { p.at += 1 }
                return p.at - s
            }
            let intStart = at
            let intDigits = digits(&self)
            guard intDigits > 0 else { throw error("expected a digit") }
            if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") {
                at = intStart
                throw error("numbers must not have leading zeros")
            }
            var integral = true
            if current == UInt8(ascii: ".") {
                at += 1
                integral = false
                guard digits(&self) > 0 else { throw error("expected a digit after '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                at += 1
                integral = false
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { at += 1 }
                guard digits(&self) > 0 else { throw error("expected a digit in the exponent") }
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            if integral, let i = Int(text) { return .integer(i) }
            guard let d = Double(text) else { throw error("invalid number '\(text)'") }
            return .number(d)
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let c = current else { throw error("unexpected end of file in a \\u escape") }
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw error("invalid hex digit in a \\u escape")
                }
                v = v << 4 | d
                at += 1
            }
            return v
        }

        mutating func string() throws(Failure) -> String {
            at += 1
            var out: [UInt8] = []
            while true {
                guard let c = current else { throw error("unterminated string") }
                at += 1
                switch c {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let e = current else { throw error("unterminated string") }
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if scalar >= 0xD800 && scalar < 0xDC00 {
                            guard current == UInt8(ascii: "\\"), at + 1 < bytes.count, bytes[at + 1] == UInt8(ascii: "u") else {
                                throw error("unpaired surrogate in a \\u escape")
                            }
                            at += 2
                            let low = try hex4()
                            guard low >= 0xDC00 && low < 0xE000 else { throw error("unpaired surrogate in a \\u escape") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if scalar >= 0xDC00 && scalar < 0xE000 {
                            throw error("unpaired surrogate in a \\u escape")
                        }
                        out.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
                    default:
                        at -= 1
                        throw error("invalid escape '\\\(printable(e))'")
                    }
                default:
                    guard c >= 0x20 else {
                        at -= 1
                        throw error("control character in a string")
                    }
                    out.append(c)
                }
            }
        }

        func printable(_ c: UInt8) -> String {
            c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : "\\x" + String(c, radix: 16)
        }
    }

    /// The JSON text of the value, compact as Python's `json.dumps(..., separators=(",", ":"))`.
    package func text() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    package func write(to out: inout String) {
        switch self {
        case .object(let fields):
            out += "{"
            for (i, f) in fields.enumerated() {
                if i > 0 { out += "," }
                out += jsonQuoted(f.key)
                out += ":"
                f.value.write(to: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .integer(let i): out += String(i)
        case .number(let d): out += pythonFloat(d)
        case .string(let s): out += jsonQuoted(s)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }
}
