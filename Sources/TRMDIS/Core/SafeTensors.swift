#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the raw
/// little-endian tensor bytes. Readers here check every offset, size and dtype before touching data.
package struct SafeTensors {
    package enum DType: String, Sendable {
        case f32 = "F32", i32 = "I32", u8 = "U8", i64 = "I64"
        /// Read only from official checkpoints (OfficialCheckpoint), converted to float32 there.
        case bf16 = "BF16", f16 = "F16"
        var width: Int {
            switch self {
            case .u8: return 1
            case .bf16, .f16: return 2
            case .f32, .i32: return 4
            case .i64: return 8
            }
        }
    }

    package struct Tensor {
        package var dtype: DType
        package var shape: [Int]
        package var bytes: [UInt8]
        package var count: Int { shape.reduce(1, *) }
    }

    package var tensors: [(name: String, tensor: Tensor)] = []
    package var metadata: [String: String] = [:]

    package init() {}

    package mutating func add(_ name: String, floats p: UnsafePointer<Float>, shape: [Int]) {
        let n = shape.reduce(1, *)
        tensors.append((name, Tensor(dtype: .f32, shape: shape,
                                     bytes: Array(UnsafeRawBufferPointer(start: p, count: n * 4)))))
    }

    package mutating func add(_ name: String, int32s p: UnsafePointer<Int32>, shape: [Int]) {
        let n = shape.reduce(1, *)
        tensors.append((name, Tensor(dtype: .i32, shape: shape,
                                     bytes: Array(UnsafeRawBufferPointer(start: p, count: n * 4)))))
    }

    package func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name }?.tensor }

    /// Copies a float tensor into `dst` after checking its dtype and shape.
    package func read(_ name: String, into dst: UnsafeMutablePointer<Float>, shape: [Int], file: String) throws(TRMError) {
        try read(name, raw: UnsafeMutableRawPointer(dst), dtype: .f32, shape: shape, file: file)
    }

    package func read(_ name: String, into dst: UnsafeMutablePointer<Int32>, shape: [Int], file: String) throws(TRMError) {
        try read(name, raw: UnsafeMutableRawPointer(dst), dtype: .i32, shape: shape, file: file)
    }

    private func read(_ name: String, raw dst: UnsafeMutableRawPointer, dtype: DType, shape: [Int], file: String) throws(TRMError) {
        guard let t = tensor(name) else { throw .format("\(file): missing tensor '\(name)'") }
        guard t.dtype == dtype else { throw .format("\(file): tensor '\(name)' is \(t.dtype.rawValue), expected \(dtype.rawValue)") }
        guard t.shape == shape else { throw .format("\(file): tensor '\(name)' has shape \(t.shape), expected \(shape)") }
        t.bytes.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    // MARK: Encoding

    package func encoded() -> [UInt8] {
        var header = "{"
        var offset = 0
        var first = true
        func quote(_ s: String) -> String {
            let data = try! JSONEncoder().encode(s)
            return String(decoding: data, as: UTF8.self)
        }
        if !metadata.isEmpty {
            let entries = metadata.keys.sorted().map { "\(quote($0)):\(quote(metadata[$0]!))" }
            header += "\"__metadata__\":{\(entries.joined(separator: ","))}"
            first = false
        }
        for (name, t) in tensors {
            header += (first ? "" : ",") + "\(quote(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":["
                + t.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}"
            offset += t.bytes.count
            first = false
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + headerBytes.count + offset)
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for (_, t) in tensors { out.append(contentsOf: t.bytes) }
        return out
    }

    /// Writes atomically: a temporary file in the same directory, then rename.
    package func write(to path: String) throws(TRMError) {
        try writeFileAtomically(path, encoded())
    }

    // MARK: Decoding

    private struct Entry: Decodable {
        var dtype: String
        var shape: [Int]
        var data_offsets: [Int]
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Header keys in file order, each decoded as a tensor entry, except "__metadata__".
    private struct Header: Decodable {
        var entries: [(String, Entry)] = []
        var metadata: [String: String] = [:]
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            for key in c.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try c.decode([String: String].self, forKey: key)
                } else {
                    entries.append((key.stringValue, try c.decode(Entry.self, forKey: key)))
                }
            }
        }
    }

    /// Reads a safetensors file: the header length first, checked against the file's size, then the
    /// header, every entry checked (dtype, shape, byte size without overflow, offsets that tile the data
    /// exactly, no duplicate key), and only then the data.
    package static func load(_ path: String) throws(TRMError) -> SafeTensors {
        let file = try InputFile(path)
        let length = try headerLength(try file.read(8, "the header length"), fileSize: file.size, file: path)
        let layout = try parseHeader(try file.read(length, "the header")[...], dataSize: file.size - 8 - length, file: path)
        return assemble(layout, data: try file.readRest("the tensor data")[...])
    }

    /// Decodes safetensors bytes held in memory, with the checks of `load`.
    package static func decode(_ bytes: [UInt8], file: String) throws(TRMError) -> SafeTensors {
        guard bytes.count >= 8 else { throw .format("\(file): too short to be a safetensors file (\(bytes.count) bytes)") }
        let length = try headerLength(Array(bytes[0..<8]), fileSize: bytes.count, file: file)
        let layout = try parseHeader(bytes[8..<8 + length], dataSize: bytes.count - 8 - length, file: file)
        return assemble(layout, data: bytes[(8 + length)...])
    }

    static let maxHeaderLength = 100_000_000

    static func headerLength(_ prefix: [UInt8], fileSize: Int, file: String) throws(TRMError) -> Int {
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(prefix[i]) << (8 * UInt64(i)) }
        guard length >= 2, length <= UInt64(maxHeaderLength), Int(length) <= fileSize - 8 else {
            throw .format("\(file): header length \(length) does not fit in the file (\(fileSize) bytes)")
        }
        return Int(length)
    }

    /// Entries in data order with their byte ranges, and the metadata.
    struct Layout {
        var entries: [(name: String, dtype: DType, shape: [Int], range: Range<Int>)] = []
        var metadata: [String: String] = [:]
    }

    static func parseHeader(_ headerBytes: ArraySlice<UInt8>, dataSize: Int, file: String) throws(TRMError) -> Layout {
        if let problem = JSONValue.problem(in: headerBytes) {
            throw .format("\(file): the header is not acceptable JSON (\(problem))")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(headerBytes))
        } catch {
            throw .format("\(file): the header is not valid safetensors JSON (\(error))")
        }
        var layout = Layout()
        layout.metadata = header.metadata
        for (name, e) in header.entries {
            guard let dtype = DType(rawValue: e.dtype) else { throw .format("\(file): tensor '\(name)' has unsupported dtype \(e.dtype)") }
            guard e.shape.allSatisfy({ $0 >= 0 }), e.data_offsets.count == 2 else {
                throw .format("\(file): tensor '\(name)' has a bad shape or offsets")
            }
            var bytes = dtype.width, overflow = false
            for d in e.shape {
                let r = bytes.multipliedReportingOverflow(by: d)
                bytes = r.partialValue
                overflow = overflow || r.overflow
            }
            let begin = e.data_offsets[0], end = e.data_offsets[1]
            guard !overflow, begin >= 0, begin <= end, end <= dataSize, end - begin == bytes else {
                throw .format("\(file): tensor '\(name)' has data offsets [\(begin), \(end)] that do not match its shape "
                    + "\(e.shape) of \(dtype.rawValue) or the data size \(dataSize)")
            }
            layout.entries.append((name, dtype, e.shape, begin..<end))
        }
        // The byte ranges must tile the data exactly, as the format requires: no overlap, no gap, no tail.
        layout.entries.sort { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        var next = 0
        for e in layout.entries {
            guard e.range.lowerBound == next else {
                throw .format("\(file): tensor '\(e.name)' starts at byte \(e.range.lowerBound) of the data, expected \(next) "
                    + (e.range.lowerBound < next ? "(it overlaps another tensor)" : "(a gap)"))
            }
            next = e.range.upperBound
        }
        guard next == dataSize else {
            throw .format("\(file): the tensors cover \(next) bytes of data, the file holds \(dataSize)")
        }
        return layout
    }

    static func assemble(_ layout: Layout, data: ArraySlice<UInt8>) -> SafeTensors {
        var result = SafeTensors()
        result.metadata = layout.metadata
        let base = data.startIndex
        for e in layout.entries {
            result.tensors.append((e.name, Tensor(dtype: e.dtype, shape: e.shape,
                                                  bytes: Array(data[(base + e.range.lowerBound)..<(base + e.range.upperBound)]))))
        }
        return result
    }
}
