/// A structural check of JSON text run before it is decoded: nesting deeper than `maxDepth` and an object
/// naming one key twice are refused. Decoders differ on duplicates (Foundation keeps the first, Python
/// and the safetensors library the last), so a file that means one thing here and another elsewhere is
/// rejected instead (docs/engine.md, "Threat model").
package enum JSONStructure {
    package static let maxDepth = 64

    /// nil if `bytes` is well-formed JSON without duplicate keys; otherwise what is wrong.
    package static func problem(in bytes: ArraySlice<UInt8>) -> String? {
        var scanner = Scanner(bytes: Array(bytes))
        do throws(Scanner.Failure) {
            scanner.skipSpace()
            try scanner.value(depth: 0)
            scanner.skipSpace()
            guard scanner.atEnd else { throw Scanner.Failure(message: "text after the JSON value") }
            return nil
        } catch {
            return "\(error.message) at byte \(scanner.position)"
        }
    }

    struct Scanner {
        struct Failure: Error { let message: String }
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position >= bytes.count }

        mutating func skipSpace() {
            while !atEnd, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(Failure) {
            guard !atEnd, bytes[position] == byte else {
                throw Failure(message: "expected '\(Character(Unicode.Scalar(byte)))'")
            }
            position += 1
        }

        mutating func value(depth: Int) throws(Failure) {
            guard depth <= JSONStructure.maxDepth else { throw Failure(message: "nesting deeper than \(JSONStructure.maxDepth)") }
            guard !atEnd else { throw Failure(message: "unexpected end") }
            switch bytes[position] {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): _ = try string()
            default: try scalar()
            }
        }

        mutating func object(depth: Int) throws(Failure) {
            try expect(UInt8(ascii: "{"))
            var keys = Set<[UInt16]>()
            skipSpace()
            if !atEnd && bytes[position] == UInt8(ascii: "}") { position += 1; return }
            while true {
                skipSpace()
                let key = try string()
                guard keys.insert(key).inserted else {
                    throw Failure(message: "duplicate key \"\(String(decoding: key, as: UTF16.self).prefix(64))\"")
                }
                skipSpace()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                try value(depth: depth)
                skipSpace()
                guard !atEnd else { throw Failure(message: "unterminated object") }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return }
                try expect(UInt8(ascii: ","))
            }
        }

        mutating func array(depth: Int) throws(Failure) {
            try expect(UInt8(ascii: "["))
            skipSpace()
            if !atEnd && bytes[position] == UInt8(ascii: "]") { position += 1; return }
            while true {
                skipSpace()
                try value(depth: depth)
                skipSpace()
                guard !atEnd else { throw Failure(message: "unterminated array") }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return }
                try expect(UInt8(ascii: ","))
            }
        }

        /// A string's UTF-16 code units with escapes resolved, so "\u0061" and "a" are the same key.
        mutating func string() throws(Failure) -> [UInt16] {
            try expect(UInt8(ascii: "\""))
            var units: [UInt16] = []
            var raw: [UInt8] = []
            func flush() { units += Array(String(decoding: raw, as: UTF8.self).utf16); raw.removeAll() }
            while true {
                guard !atEnd else { throw Failure(message: "unterminated string") }
                let b = bytes[position]
                position += 1
                if b == UInt8(ascii: "\"") { flush(); return units }
                if b < 0x20 { throw Failure(message: "control character in a string") }
                guard b == UInt8(ascii: "\\") else { raw.append(b); continue }
                flush()
                guard !atEnd else { throw Failure(message: "unterminated escape") }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): units.append(UInt16(e))
                case UInt8(ascii: "b"): units.append(8)
                case UInt8(ascii: "f"): units.append(12)
                case UInt8(ascii: "n"): units.append(10)
                case UInt8(ascii: "r"): units.append(13)
                case UInt8(ascii: "t"): units.append(9)
                case UInt8(ascii: "u"):
                    guard position + 4 <= bytes.count,
                          let unit = UInt16(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
                        throw Failure(message: "bad \\u escape")
                    }
                    units.append(unit)
                    position += 4
                default: throw Failure(message: "bad escape")
                }
            }
        }

        /// A number, true, false or null: the characters they may hold (the decoder checks the rest).
        mutating func scalar() throws(Failure) {
            let start = position
            while !atEnd, bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+")
                || bytes[position] == UInt8(ascii: ".") || (0x30...0x39).contains(bytes[position])
                || (0x61...0x7A).contains(bytes[position]) || bytes[position] == UInt8(ascii: "E") {
                position += 1
            }
            guard position > start else { throw Failure(message: "unexpected character") }
        }
    }
}
