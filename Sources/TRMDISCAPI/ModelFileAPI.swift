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
        let model = try engine { () throws(TRMError) -> Model in try Model.load(from: file) }
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
