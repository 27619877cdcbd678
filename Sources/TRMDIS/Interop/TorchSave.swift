/// Writes a state dict in `torch.save`'s format without PyTorch, so that the official code's `torch.load`
/// (with `weights_only=True`) reads an exported model directly (docs/pytorch.md). The inverse of
/// TorchCheckpoint: a zip archive of stored entries `<archive>/data.pkl` (a protocol-2 pickle of an
/// OrderedDict of float32 tensors rebuilt by `torch._utils._rebuild_tensor_v2`), `<archive>/data/<i>` (each
/// tensor's bytes, one storage per tensor), `byteorder` and `version`.
package enum TorchSave {
    package static func encode(_ tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)],
                               archive: String) throws(TRMError) -> [UInt8] {
        var zip = ZipWriter()
        zip.add("\(archive)/data.pkl", pickle(tensors))
        zip.add("\(archive)/byteorder", Array("little".utf8))
        for (i, t) in tensors.enumerated() {
            zip.add("\(archive)/data/\(i)", UnsafeRawBufferPointer(t.values))  // appended once, not copied first
        }
        zip.add("\(archive)/version", Array("3\n".utf8))
        return try zip.finish()
    }

    /// The pickle of OrderedDict((name, tensor), ...), as torch.save writes it.
    static func pickle(_ tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)]) -> [UInt8] {
        var p = PickleWriter()
        p.op(0x80); p.byte(2)                                  // PROTO 2
        p.global("collections", "OrderedDict"); p.op(0x29); p.op(0x52)  // OrderedDict()
        p.op(0x28)                                             // MARK
        for (i, t) in tensors.enumerated() {
            p.string(t.name)
            p.global("torch._utils", "_rebuild_tensor_v2")
            p.op(0x28)                                         // MARK: the arguments
            p.op(0x28)                                         // MARK: the persistent id
            p.string("storage"); p.global("torch", "FloatStorage"); p.string(String(i)); p.string("cpu"); p.int(t.values.count)
            p.op(0x74); p.op(0x51)                             // TUPLE, BINPERSID
            p.int(0)                                           // storage offset
            p.intTuple(t.shape)
            var strides = [Int](repeating: 1, count: t.shape.count)
            for d in stride(from: t.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * t.shape[d + 1] }
            p.intTuple(strides)
            p.op(0x89)                                         // requires_grad False
            p.global("collections", "OrderedDict"); p.op(0x29); p.op(0x52)  // backward hooks
            p.op(0x74); p.op(0x52)                             // TUPLE, REDUCE
        }
        p.op(0x75)                                             // SETITEMS
        p.op(0x2E)                                             // STOP
        return p.bytes
    }
}

struct PickleWriter {
    var bytes: [UInt8] = []

    mutating func op(_ o: UInt8) { bytes.append(o) }
    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func global(_ module: String, _ name: String) {
        op(0x63)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        op(0x58)                                               // BINUNICODE
        for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: utf8.count >> (8 * k))) }
        bytes += utf8
    }

    mutating func int(_ v: Int) {
        if let small = Int32(exactly: v) {
            op(0x4A)                                           // BININT
            for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: Int(small) >> (8 * k))) }
        } else {
            op(0x8A); byte(8)                                  // LONG1, 8 bytes two's complement
            for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
        }
    }

    mutating func intTuple(_ values: [Int]) {
        op(0x28)
        for v in values { int(v) }
        op(0x74)
    }
}

/// A zip archive of stored (uncompressed) entries with their CRC-32, as PyTorch writes them; refuses more
/// than 4 GiB (zip64 is not written: export as safetensors for such a model).
struct ZipWriter {
    private var data: [UInt8] = []
    private var directory: [UInt8] = []
    private var count = 0

    mutating func add<Bytes: Collection<UInt8>>(_ name: String, _ content: Bytes) {
        let nameBytes = Array(name.utf8)
        let crc = ZipWriter.crc32(content)
        let offset = data.count
        // Local header: signature, version 2.0, flags, method 0 (stored), time, date, CRC, sizes, name length, extra.
        ZipWriter.put(&data, 0x0403_4B50, 4); ZipWriter.put(&data, 20, 2); ZipWriter.put(&data, 0, 2); ZipWriter.put(&data, 0, 2)
        ZipWriter.put(&data, 0, 2); ZipWriter.put(&data, 0x21, 2)
        ZipWriter.put(&data, Int(crc), 4); ZipWriter.put(&data, content.count, 4); ZipWriter.put(&data, content.count, 4)
        ZipWriter.put(&data, nameBytes.count, 2); ZipWriter.put(&data, 0, 2)
        data += nameBytes
        data += content
        // Central directory entry.
        ZipWriter.put(&directory, 0x0201_4B50, 4); ZipWriter.put(&directory, 20, 2); ZipWriter.put(&directory, 20, 2)
        ZipWriter.put(&directory, 0, 2); ZipWriter.put(&directory, 0, 2); ZipWriter.put(&directory, 0, 2); ZipWriter.put(&directory, 0x21, 2)
        ZipWriter.put(&directory, Int(crc), 4); ZipWriter.put(&directory, content.count, 4); ZipWriter.put(&directory, content.count, 4)
        ZipWriter.put(&directory, nameBytes.count, 2); ZipWriter.put(&directory, 0, 2); ZipWriter.put(&directory, 0, 2)
        ZipWriter.put(&directory, 0, 2); ZipWriter.put(&directory, 0, 2); ZipWriter.put(&directory, 0, 4)
        ZipWriter.put(&directory, offset, 4)
        directory += nameBytes
        count += 1
    }

    mutating func finish() throws(TRMError) -> [UInt8] {
        guard data.count + directory.count < 0xFFFF_FFFF, count < 0xFFFF else {
            throw .invalidArgument("the model is too large for a torch.save archive without zip64 (over 4 GiB); export it as .safetensors")
        }
        let start = data.count
        data += directory
        ZipWriter.put(&data, 0x0605_4B50, 4); ZipWriter.put(&data, 0, 2); ZipWriter.put(&data, 0, 2)
        ZipWriter.put(&data, count, 2); ZipWriter.put(&data, count, 2)
        ZipWriter.put(&data, directory.count, 4); ZipWriter.put(&data, start, 4); ZipWriter.put(&data, 0, 2)
        return data  // the entries grow in place: the archive is never copied whole
    }

    static func put(_ out: inout [UInt8], _ value: Int, _ width: Int) {
        for k in 0..<width { out.append(UInt8(truncatingIfNeeded: value >> (8 * k))) }
    }

    static let crcTable: [UInt32] = (0..<256).map { (n: UInt32) -> UInt32 in
        var c = n
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        crcTable.withUnsafeBufferPointer { table in
            for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }
}
