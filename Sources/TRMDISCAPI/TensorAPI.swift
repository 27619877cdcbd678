import CTRMDIS
import TRMDIS

// A model's tensors by name (Include/trmdis.h, "Tensors by name"): what state_dict / from_state_dict use.

@c @implementation
public func trm_model_tensor_count(_ model: OpaquePointer?, _ count: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("trm_model_tensor_count") { () throws(Failure) in
        let m = try Handles.model(model)
        guard let count else { throw .invalid("count is NULL") }
        count.pointee = Int32(m.model.namedTensors.count)
    }
}

@c @implementation
public func trm_model_tensor_info(_ model: OpaquePointer?, _ index: Int32, _ out: UnsafeMutablePointer<trm_tensor_info>?) -> Int32 {
    guarded("trm_model_tensor_info") { () throws(Failure) in
        let tensors = try Handles.model(model).model.namedTensors
        guard let out else { throw .invalid("out is NULL") }
        try checkSize(out.pointee.struct_size, MemoryLayout<trm_tensor_info>.size, "out", "trm_tensor_info")
        guard index >= 0, Int(index) < tensors.count else { throw .invalid("index \(index) is outside [0, \(tensors.count))") }
        let t = tensors[Int(index)]
        var info = trm_tensor_info()
        info.struct_size = MemoryLayout<trm_tensor_info>.size
        withUnsafeMutableBytes(of: &info.name) { buffer in
            let bytes = Array(t.name.utf8.prefix(buffer.count - 1))
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        info.ndim = Int32(t.shape.count)
        withUnsafeMutableBytes(of: &info.shape) { buffer in
            let shape = buffer.bindMemory(to: Int64.self)
            for (i, d) in t.shape.prefix(shape.count).enumerated() { shape[i] = Int64(d) }
        }
        info.count = Int64(t.values.count)
        out.pointee = info
    }
}

@c @implementation
public func trm_model_get_tensor(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<Float>?,
                                 _ count: Int) -> Int32 {
    guarded("trm_model_get_tensor") { () throws(Failure) in
        let m = try Handles.model(model)
        let t = try namedTensor(m.model, name)
        guard let out else { throw .invalid("out is NULL") }
        guard count == t.values.count else { throw .invalid("count is \(count); tensor '\(t.name)' \(t.shape) has \(t.values.count) values") }
        out.update(from: t.values.baseAddress!, count: count)
    }
}

@c @implementation
public func trm_model_set_tensor(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ values: UnsafePointer<Float>?,
                                 _ count: Int) -> Int32 {
    guarded("trm_model_set_tensor") { () throws(Failure) in
        let m = try Handles.model(model)
        let t = try namedTensor(m.model, name)
        guard let values else { throw .invalid("values is NULL") }
        guard count == t.values.count else { throw .invalid("count is \(count); tensor '\(t.name)' \(t.shape) has \(t.values.count) values") }
        try engine { () throws(TRMError) in try m.model.setTensor(t.name, UnsafeBufferPointer(start: values, count: count)) }
    }
}

/// The model's tensor called `name`, or a Failure that lists a few of the names it has.
private func namedTensor(_ model: Model, _ name: UnsafePointer<CChar>?) throws(Failure)
    -> (name: String, shape: [Int], values: UnsafeMutableBufferPointer<Float>) {
    guard let name else { throw .invalid("name is NULL") }
    let text = String(cString: name)
    let tensors = model.namedTensors
    guard let t = tensors.first(where: { $0.name == text }) else {
        throw .invalid("the model has no tensor '\(text.prefix(128))' (trm_model_tensor_info lists its \(tensors.count) tensors)")
    }
    return t
}
