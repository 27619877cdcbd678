#if canImport(Glibc)
import Glibc
#endif
import CTRMDIS
import FoundationEssentials
import TRMDIS

@c @implementation
public func trm_model_save(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guarded("trm_model_save") { () throws(Failure) in
        let m = try Handles.model(model)
        let file = try pathArgument(path, "path")
        try engine { () throws(TRMError) in try m.model.save(to: file) }
    }
}

@c @implementation
public func trm_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("trm_model_load") { () throws(Failure) in
        let file = try pathArgument(path, "path")
        guard let out else { throw .invalid("out is NULL") }
        // Model.load's steps, with the memory check between reading the configuration and allocating.
        let (st, config) = try engine { () throws(TRMError) -> (SafeTensors, ModelConfig) in
            let st = try SafeTensors.load(file)
            return (st, try Model.storedConfig(st, file: file))
        }
        try MemoryCheck.model(config)
        let model = try engine { () throws(TRMError) -> Model in try Model.load(st, config: config, file: file) }
        out.pointee = Handles.open(ModelHandle(model))
    }
}

/// A non-empty UTF-8 path argument.
func pathArgument(_ path: UnsafePointer<CChar>?, _ name: String) throws(Failure) -> String {
    guard let path else { throw .invalid("\(name) is NULL") }
    let text = String(cString: path)
    guard !text.isEmpty else { throw .invalid("\(name) is empty") }
    return text
}

/// The `__metadata__` of a safetensors file, reading only its header: enough to check what a checkpoint
/// would allocate before the engine reads all of it. nil when the file has no readable header (the engine's
/// own loader then reports the precise error).
func safeTensorsMetadata(_ path: String) -> [String: String]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var prefix = [UInt8](repeating: 0, count: 8)
    guard fread(&prefix, 1, 8, f) == 8 else { return nil }
    var length = 0
    for i in 0..<8 { length |= Int(prefix[i]) << (8 * i) }
    guard length >= 2 && length <= 100_000_000 else { return nil }
    var header = [UInt8](repeating: 0, count: length)
    guard fread(&header, 1, length, f) == length else { return nil }
    struct Header: Decodable {
        var metadata: [String: String]?
        enum CodingKeys: String, CodingKey { case metadata = "__metadata__" }
    }
    return (try? JSONDecoder().decode(Header.self, from: Data(header)))?.metadata
}
