#if canImport(Glibc)
import Glibc
#endif

/// The state dict of a checkpoint written by the official TRM or DIS PyTorch code (docs/pytorch.md): a
/// `torch.save` file (a zip archive, TorchCheckpoint) or a safetensors file, in float32, bfloat16 or
/// float16. Names are normalised to this engine's (docs/formats.md) and every tensor becomes float32.
package enum OfficialCheckpoint {
    /// Wrappers the official code puts before the model's names: torch.compile's `_orig_mod.`, the loss
    /// head's `model.`, the ACT wrapper's `inner.`, DistributedDataParallel's `module.`.
    static let prefixes = ["_orig_mod.", "module.", "model.", "inner."]
    /// Buffers the official code registers as non-persistent; dropped if a file holds them anyway.
    static func isTransient(_ name: String) -> Bool {
        ["puzzle_emb.local_weights", "puzzle_emb.local_ids", "rotary_emb.cos_cached", "rotary_emb.sin_cached"].contains(name)
    }

    /// The tensors of `path` under this engine's names, as float32, with notes on what was changed.
    package static func read(_ path: String, notes: inout [String]) throws(TRMError) -> SafeTensors {
        let raw = try readRaw(path)
        var out = SafeTensors()
        var dtypes: [String: [String]] = [:]
        for (key, tensor) in raw.tensors {
            var name = key
            while let prefix = prefixes.first(where: { name.hasPrefix($0) }) { name.removeFirst(prefix.count) }
            if name == Model.legacyTimeTableName { name = "timestep_embed.embedding_weight" }
            if isTransient(name) {
                notes.append("dropped the non-persistent buffer \(name)")
                continue
            }
            guard !out.tensors.contains(where: { $0.name == name }) else {
                throw .format("\(path): two tensors are named \(name) once the wrappers' prefixes are removed (one is \(key))")
            }
            if tensor.dtype != .f32 { dtypes[tensor.dtype.rawValue, default: []].append(name) }
            out.tensors.append((name, try float32(tensor, name: key, file: path)))
        }
        for (dtype, names) in dtypes.sorted(by: { $0.key < $1.key }) {
            notes.append("\(names.count) tensor(s) converted from \(dtype) to float32 (\(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", ..." : ""))")
        }
        return out
    }

    /// The file's tensors as stored: safetensors, or torch.save's zip archive.
    static func readRaw(_ path: String) throws(TRMError) -> SafeTensors {
        let file = try InputFile(path)
        let magic = try file.read(min(4, file.size), "the file's first bytes")
        if magic == [0x50, 0x4B, 0x03, 0x04] { return try TorchCheckpoint.read(path) }
        if magic.first == 0x80 {
            throw .format("\(path) is a legacy torch.save file (before PyTorch 1.6); re-save it with torch.save in a newer "
                + "PyTorch, or as safetensors (safetensors.torch.save_file)")
        }
        return try SafeTensors.load(path)
    }

    /// A float32 copy of a float32, bfloat16 or float16 tensor.
    static func float32(_ t: SafeTensors.Tensor, name: String, file: String) throws(TRMError) -> SafeTensors.Tensor {
        guard [.f32, .bf16, .f16].contains(t.dtype) else {
            throw .format("\(file): tensor '\(name)' is \(t.dtype.rawValue); model weights must be float32, bfloat16 or float16")
        }
        let n = t.count
        var values = [Float](repeating: 0, count: n)
        t.bytes.withUnsafeBytes { raw in
            switch t.dtype {
            case .f32:
                for i in 0..<n { values[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .bf16:
                for i in 0..<n { values[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            case .f16:
                for i in 0..<n { values[i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            default:
                break  // refused above
            }
        }
        var out = SafeTensors.Tensor(dtype: .f32, shape: t.shape, bytes: [])
        out.bytes = values.withUnsafeBytes { Array($0) }
        return out
    }

    /// IEEE 754 binary16 to binary32, subnormals, infinities and NaN included.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int((h >> 10) & 0x1F), mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24  // subnormal (or zero): mantissa · 2^-24
            return Float(bitPattern: magnitude.bitPattern | sign)
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
        }
    }
}
