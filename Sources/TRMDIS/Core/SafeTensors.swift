#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the raw
/// little-endian tensor bytes. Readers here check every offset, size and dtype before touching data.
public struct SafeTensors {
    public enum DType: String, Sendable { case f32 = "F32", i32 = "I32", u8 = "U8", i64 = "I64" }

    public struct Tensor {
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]
        public var count: Int { shape.reduce(1, *) }
    }

    public var tensors: [(name: String, tensor: Tensor)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, floats p: UnsafePointer<Float>, shape: [Int]) {
        let n = shape.reduce(1, *)
        tensors.append((name, Tensor(dtype: .f32, shape: shape,
                                     bytes: Array(UnsafeRawBufferPointer(start: p, count: n * 4)))))
    }

    public mutating func add(_ name: String, int32s p: UnsafePointer<Int32>, shape: [Int]) {
        let n = shape.reduce(1, *)
        tensors.append((name, Tensor(dtype: .i32, shape: shape,
                                     bytes: Array(UnsafeRawBufferPointer(start: p, count: n * 4)))))
    }

    public func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name }?.tensor }

    /// Copies a float tensor into `dst` after checking its dtype and shape.
    public func read(_ name: String, into dst: UnsafeMutablePointer<Float>, shape: [Int], file: String) throws(TRMError) {
        try read(name, raw: UnsafeMutableRawPointer(dst), dtype: .f32, shape: shape, file: file)
    }

    public func read(_ name: String, into dst: UnsafeMutablePointer<Int32>, shape: [Int], file: String) throws(TRMError) {
        try read(name, raw: UnsafeMutableRawPointer(dst), dtype: .i32, shape: shape, file: file)
    }

    private func read(_ name: String, raw dst: UnsafeMutableRawPointer, dtype: DType, shape: [Int], file: String) throws(TRMError) {
        guard let t = tensor(name) else { throw .format("\(file): missing tensor '\(name)'") }
        guard t.dtype == dtype else { throw .format("\(file): tensor '\(name)' is \(t.dtype.rawValue), expected \(dtype.rawValue)") }
        guard t.shape == shape else { throw .format("\(file): tensor '\(name)' has shape \(t.shape), expected \(shape)") }
        t.bytes.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    // MARK: Encoding

    public func encoded() -> [UInt8] {
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
    public func write(to path: String) throws(TRMError) {
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

    public static func load(_ path: String) throws(TRMError) -> SafeTensors {
        try decode(readFile(path), file: path)
    }

    public static func decode(_ bytes: [UInt8], file: String) throws(TRMError) -> SafeTensors {
        guard bytes.count >= 8 else { throw .format("\(file): too short to be a safetensors file (\(bytes.count) bytes)") }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length >= 2, length <= 100_000_000, Int(length) <= bytes.count - 8 else {
            throw .format("\(file): header length \(length) does not fit in the file (\(bytes.count) bytes)")
        }
        let headerEnd = 8 + Int(length)
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[8..<headerEnd]))
        } catch {
            throw .format("\(file): the header is not valid safetensors JSON (\(error))")
        }
        var result = SafeTensors()
        result.metadata = header.metadata
        let dataSize = bytes.count - headerEnd
        for (name, e) in header.entries {
            guard let dtype = DType(rawValue: e.dtype) else { throw .format("\(file): tensor '\(name)' has unsupported dtype \(e.dtype)") }
            guard e.shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 40 }), e.data_offsets.count == 2 else {
                throw .format("\(file): tensor '\(name)' has a bad shape or offsets")
            }
            let begin = e.data_offsets[0], end = e.data_offsets[1]
            let (count, overflow) = e.shape.reduce((1, false)) { acc, d in
                let r = acc.0.multipliedReportingOverflow(by: d)
                return (r.partialValue, acc.1 || r.overflow)
            }
            let width = dtype == .u8 ? 1 : (dtype == .i64 ? 8 : 4)
            guard !overflow, begin >= 0, begin <= end, end <= dataSize, end - begin == count * width else {
                throw .format("\(file): tensor '\(name)' has data offsets [\(begin), \(end)] that do not match its shape \(e.shape) or the file size")
            }
            result.tensors.append((name, Tensor(dtype: dtype, shape: e.shape,
                                                bytes: Array(bytes[(headerEnd + begin)..<(headerEnd + end)]))))
        }
        return result
    }
}

