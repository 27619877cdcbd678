/// NumPy's `.npy` format (versions 1.0, 2.0 and 3.0 on read; 1.0 on write), because the reference's
/// builders save every dataset array with `np.save` and its loader memory-maps them (docs/formats.md: Datasets).
///
/// Only what datasets need is supported: C-ordered little-endian integer arrays. The writer reproduces
/// NumPy's header byte for byte (sorted keys, the 21-digit growth space, 64-byte alignment), so a file
/// written here is indistinguishable from one written by `np.save`.
package struct NpyArray: Equatable, Sendable {
    /// The integer dtypes a reader accepts. Dataset files use `|u1` (tokens) and `<i4` (indices).
    package enum DType: String, CaseIterable, Sendable {
        case u1 = "|u1", i1 = "|i1", u2 = "<u2", i2 = "<i2", u4 = "<u4", i4 = "<i4", u8 = "<u8", i8 = "<i8"

        package var byteWidth: Int {
            switch self {
            case .u1, .i1: return 1
            case .u2, .i2: return 2
            case .u4, .i4: return 4
            case .u8, .i8: return 8
            }
        }

        var isSigned: Bool { self == .i1 || self == .i2 || self == .i4 || self == .i8 }

        /// NumPy spells one-byte types with '|' but also accepts '<' and '='; so do we.
        static func parse(_ descr: String) -> DType? {
            if let d = DType(rawValue: descr) { return d }
            guard descr.count == 3 else { return nil }
            let order = descr.first!, rest = String(descr.dropFirst())
            switch (order, rest) {
            case ("<", "u1"), ("=", "u1"): return .u1
            case ("<", "i1"), ("=", "i1"): return .i1
            case ("=", _): return DType(rawValue: "<" + rest)  // native order is little-endian here
            default: return nil
            }
        }
    }

    package var dtype: DType
    package var shape: [Int]
    /// The raw little-endian element bytes, C order.
    package var bytes: [UInt8]

    package var count: Int { shape.reduce(1, *) }

    package init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    package init(uint8 values: [UInt8], shape: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "shape does not match the element count")
        self.init(dtype: .u1, shape: shape, bytes: values)
    }

    package init(int32 values: [Int32], shape: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "shape does not match the element count")
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        bytes.withUnsafeMutableBytes { dst in
            for (i, v) in values.enumerated() { dst.storeBytes(of: v.littleEndian, toByteOffset: i * 4, as: Int32.self) }
        }
        self.init(dtype: .i4, shape: shape, bytes: bytes)
    }

    /// Element i widened to Int64 (UInt64 values above Int64.max come back negative and fail range checks).
    @inline(__always)
    func element(_ i: Int, _ raw: UnsafeRawBufferPointer) -> Int64 {
        let o = i * dtype.byteWidth
        switch dtype {
        case .u1: return Int64(raw[o])
        case .i1: return Int64(Int8(bitPattern: raw[o]))
        case .u2: return Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
        case .i2: return Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int16.self)))
        case .u4: return Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
        case .i4: return Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int32.self)))
        case .u8: return Int64(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
        case .i8: return Int64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int64.self))
        }
    }

    /// The elements as bytes; any value outside 0...255 is an error naming `file`.
    package func uint8Values(file: String) throws(TRMError) -> [UInt8] {
        if dtype == .u1 { return bytes }
        let n = count
        var out = [UInt8](repeating: 0, count: n)
        var bad: (Int, Int64)?
        bytes.withUnsafeBytes { raw in
            for i in 0..<n {
                let v = element(i, raw)
                if v < 0 || v > 255 { bad = (i, v); return }
                out[i] = UInt8(v)
            }
        }
        if let (i, v) = bad { throw .format("\(file): value \(v) at element \(i) does not fit in a byte token") }
        return out
    }

    /// The elements as Int32; any value outside Int32's range is an error naming `file`.
    package func int32Values(file: String) throws(TRMError) -> [Int32] {
        let n = count
        var out = [Int32](repeating: 0, count: n)
        var bad: (Int, Int64)?
        bytes.withUnsafeBytes { raw in
            for i in 0..<n {
                let v = element(i, raw)
                if v < Int64(Int32.min) || v > Int64(Int32.max) || (dtype == .u8 && v < 0) { bad = (i, v); return }
                out[i] = Int32(v)
            }
        }
        if let (i, v) = bad { throw .format("\(file): value \(v) at element \(i) does not fit in int32") }
        return out
    }
}

// MARK: Reading

extension NpyArray {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Reads and checks a `.npy` file: the header first, whose shape must match the file's length before
    /// the data is read.
    package static func read(path: String) throws(TRMError) -> NpyArray {
        let file = try InputFile(path)
        guard file.size >= 10 else { throw .format("\(path): not a .npy file (\(file.size) bytes)") }
        var prefix = try file.read(10, "the .npy preamble")
        let wide = prefix[6] == 2 || prefix[6] == 3
        if wide { prefix += try file.read(2, "the .npy header length") }
        let headerLength = wide ? Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            : Int(prefix[8]) | Int(prefix[9]) << 8
        guard prefix[6] < 1 || prefix[6] > 3 || headerLength <= file.remaining else {
            throw .format("\(path): truncated .npy header (needs \(headerLength) bytes, file has \(file.remaining))")
        }
        let head = prefix + (prefix[6] >= 1 && prefix[6] <= 3 ? try file.read(headerLength, "the .npy header") : [])
        let (dtype, shape, dataBytes) = try parseHeader(head, file: path)
        guard dataBytes == file.remaining else { throw dataSizeError(dtype, shape, dataBytes, file.remaining, path) }
        return NpyArray(dtype: dtype, shape: shape, bytes: try file.readRest("the array data"))
    }

    /// Parses `.npy` bytes; `file` names the source in every error.
    package static func decode(_ data: [UInt8], file: String) throws(TRMError) -> NpyArray {
        let (dtype, shape, expected) = try parseHeader(data, file: file)
        let start = headerEnd(data)
        let available = data.count - start
        guard available == expected else { throw dataSizeError(dtype, shape, expected, available, file) }
        return NpyArray(dtype: dtype, shape: shape, bytes: Array(data[start...]))
    }

    /// Where the header of a well-formed preamble ends (parseHeader has checked that it is within `data`).
    static func headerEnd(_ data: [UInt8]) -> Int {
        data[6] == 1 ? 10 + (Int(data[8]) | Int(data[9]) << 8)
            : 12 + (Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24)
    }

    static func dataSizeError(_ dtype: DType, _ shape: [Int], _ expected: Int, _ available: Int, _ file: String) -> TRMError {
        available < expected
            ? .format("\(file): truncated: shape \(shape) of \(dtype.rawValue) needs \(expected) data bytes, the file has \(available)")
            : .format("\(file): \(available - expected) unexpected bytes after the array data")
    }

    /// The dtype, shape and data size of a `.npy` file's preamble and header (`data` may hold more).
    static func parseHeader(_ data: [UInt8], file: String) throws(TRMError) -> (DType, [Int], Int) {
        guard data.count >= 10, Array(data[0..<6]) == magic else {
            throw .format("\(file): not a .npy file (bad magic; \(data.count) bytes)")
        }
        let major = data[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw .format("\(file): truncated .npy header") }
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        default:
            throw .format("\(file): unsupported .npy version \(major).\(data[7])")
        }
        guard data.count >= headerStart + headerLength else {
            throw .format("\(file): truncated .npy header (needs \(headerLength) bytes, file has \(data.count - headerStart))")
        }
        let header = String(decoding: data[headerStart..<headerStart + headerLength], as: UTF8.self)
        let dict: [String: NpyHeaderValue]
        var parser = NpyHeaderParser(header)
        do throws(NpyHeaderError) { dict = try parser.parseDict() } catch {
            throw .format("\(file): malformed .npy header (\(error.message)): \(header.trimmingTrailingSpaces)")
        }
        guard case .string(let descr)? = dict["descr"] else { throw .format("\(file): .npy header has no 'descr'") }
        guard let dtype = DType.parse(descr) else {
            throw .format("\(file): unsupported dtype '\(descr)' (expected an integer type such as '|u1' or '<i4')")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else {
            throw .format("\(file): .npy header has no 'fortran_order'")
        }
        guard case .tuple(let shape)? = dict["shape"] else { throw .format("\(file): .npy header has no 'shape'") }
        if shape.contains(where: { $0 < 0 }) { throw .format("\(file): negative dimension in shape \(shape)") }
        if fortran && shape.filter({ $0 > 1 }).count > 1 {
            throw .format("\(file): Fortran-ordered arrays are not supported")
        }
        // The data size in bytes, refused if it overflows (a shape such as (2**62,) of '<i4').
        var bytes = dtype.byteWidth
        for d in shape {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            if overflow { throw .format("\(file): shape \(shape) is too large") }
            bytes = p
        }
        return (dtype, shape, bytes)
    }
}

// MARK: Writing

extension NpyArray {
    /// The file exactly as NumPy ≥ 1.24's `np.save` writes it (format 1.0).
    package func encoded() -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        // NumPy leaves room for the first axis to grow to 21 digits without rewriting the file.
        if let first = shape.first { header += String(repeating: " ", count: max(0, 21 - String(first).count)) }
        let headerLength = header.utf8.count + 1  // + the final newline
        let padding = 64 - ((Self.magic.count + 2 + 2 + headerLength) % 64)
        let total = headerLength + padding
        precondition(total <= 0xFFFF, "npy header too long for format 1.0")
        var out = Self.magic + [1, 0, UInt8(total & 0xFF), UInt8(total >> 8)]
        out.reserveCapacity(out.count + total + bytes.count)
        out += Array(header.utf8)
        out += [UInt8](repeating: 0x20, count: padding)
        out.append(0x0A)
        out += bytes
        return out
    }
}

// MARK: Header parsing

/// A value in the header's Python dict literal.
enum NpyHeaderValue: Equatable {
    case string(String)
    case bool(Bool)
    case tuple([Int])
}

struct NpyHeaderError: Error { let message: String }

/// A parser for the small Python literal NumPy writes: {'key': 'str' | True | False | (int, ...), ...}.
/// Python's `literal_eval` accepts more, but nothing else appears in a real header.
struct NpyHeaderParser {
    private let chars: [Character]
    private var i = 0

    init(_ text: String) { chars = Array(text) }

    private mutating func skipSpace() {
        while i < chars.count, chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" || chars[i] == "\r" { i += 1 }
    }

    private mutating func expect(_ c: Character) throws(NpyHeaderError) {
        skipSpace()
        guard i < chars.count, chars[i] == c else { throw NpyHeaderError(message: "expected '\(c)' at offset \(i)") }
        i += 1
    }

    private mutating func peek() -> Character? {
        skipSpace()
        return i < chars.count ? chars[i] : nil
    }

    mutating func parseDict() throws(NpyHeaderError) -> [String: NpyHeaderValue] {
        try expect("{")
        var out: [String: NpyHeaderValue] = [:]
        while peek() != "}" {
            let key = try parseString()
            try expect(":")
            out[key] = try parseValue()
            if peek() == "," { i += 1 } else { break }
        }
        try expect("}")
        return out
    }

    private mutating func parseString() throws(NpyHeaderError) -> String {
        guard let q = peek(), q == "'" || q == "\"" else { throw NpyHeaderError(message: "expected a quoted key at offset \(i)") }
        i += 1
        var s = ""
        while i < chars.count, chars[i] != q { s.append(chars[i]); i += 1 }
        guard i < chars.count else { throw NpyHeaderError(message: "unterminated string") }
        i += 1
        return s
    }

    private mutating func parseInt() throws(NpyHeaderError) -> Int {
        skipSpace()
        var digits = ""
        while i < chars.count, chars[i].isNumber || (digits.isEmpty && chars[i] == "-") { digits.append(chars[i]); i += 1 }
        if i < chars.count, chars[i] == "L" { i += 1 }  // Python 2 longs
        guard let v = Int(digits) else { throw NpyHeaderError(message: "expected an integer at offset \(i)") }
        return v
    }

    private mutating func parseValue() throws(NpyHeaderError) -> NpyHeaderValue {
        switch peek() {
        case "'", "\"": return .string(try parseString())
        case "(":
            i += 1
            var dims: [Int] = []
            while peek() != ")" {
                dims.append(try parseInt())
                if peek() == "," { i += 1 } else { break }
            }
            try expect(")")
            return .tuple(dims)
        default:
            for (word, value) in [("True", true), ("False", false)] where chars[i...].starts(with: word) {
                i += word.count
                return .bool(value)
            }
            throw NpyHeaderError(message: "unexpected value at offset \(i)")
        }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
