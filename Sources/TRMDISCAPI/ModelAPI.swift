import CTRMDIS
import TRMDIS

@c @implementation
public func trm_model_config_init(_ config: UnsafeMutablePointer<trm_model_config>?) {
    guard let config else { return }
    config.pointee = trm_model_config(Preset.sudokuAtt.config)
}

@c @implementation
public func trm_model_config_preset(_ name: UnsafePointer<CChar>?, _ config: UnsafeMutablePointer<trm_model_config>?)
    -> Int32
{
    guarded("trm_model_config_preset") { () throws(Failure) in
        guard let name else { throw .invalid("name is NULL") }
        guard let config else { throw .invalid("config is NULL") }
        let text = String(cString: name)
        guard let preset = Preset.named(text) else {
            let known = Preset.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw .invalid("unknown preset \"\(text.prefix(64))\" (known: \(known))")
        }
        config.pointee = trm_model_config(preset.config)
    }
}

@c @implementation
public func trm_model_config_for_method(_ config: UnsafeMutablePointer<trm_model_config>?, _ method: Int32) -> Int32 {
    guarded("trm_model_config_for_method") { () throws(Failure) in
        guard let config else { throw .invalid("config is NULL") }
        let m = try parseMethod(method, "method")
        config.pointee = trm_model_config(try modelConfig(from: config.pointee).forMethod(m))
    }
}

@c @implementation
public func trm_model_create(_ config: UnsafePointer<trm_model_config>?, _ seed: UInt64,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32
{
    guarded("trm_model_create") { () throws(Failure) in
        guard let config else { throw .invalid("config is NULL") }
        guard let out else { throw .invalid("out is NULL") }
        let c = try modelConfig(from: config.pointee)
        let model = try engine { () throws(TRMError) in try Model(config: c, seed: seed) }
        out.pointee = Handles.open(ModelHandle(model))
    }
}

@c @implementation
public func trm_model_free(_ model: OpaquePointer?) {
    guard let model else { return }
    if !Handles.close(model, as: ModelHandle.self) { log(TRM_LOG_WARN, "trm_model_free: ignored a pointer that is not a live model") }
}

@c @implementation
public func trm_model_get_config(_ model: OpaquePointer?, _ config: UnsafeMutablePointer<trm_model_config>?)
    -> Int32
{
    guarded("trm_model_get_config") { () throws(Failure) in
        let m = try Handles.model(model)
        guard let config else { throw .invalid("config is NULL") }
        try checkStructSize(config.pointee.struct_size, "config")
        config.pointee = trm_model_config(m.model.config)
    }
}

@c @implementation
public func trm_model_parameter_count(_ model: OpaquePointer?, _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("trm_model_parameter_count") { () throws(Failure) in
        let m = try Handles.model(model)
        guard let count else { throw .invalid("count is NULL") }
        count.pointee = Int64(m.model.parameterCount)
    }
}

@c @implementation
public func trm_model_protocol(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<trm_protocol>?) -> Int32 {
    guarded("trm_model_protocol") { () throws(Failure) in
        let m = try Handles.model(model).model
        guard let out else { throw .invalid("out is NULL") }
        try checkSize(out.pointee.struct_size, MemoryLayout<trm_protocol>.size, "out", "trm_protocol")
        let p = m.inferenceProtocol
        var r = trm_protocol()
        r.struct_size = MemoryLayout<trm_protocol>.size
        r.recorded = m.trainingRecord == nil ? 0 : 1
        r.method = cMethod(p.method)
        r.feedback = p.feedbackPredictions ? 1 : 0
        r.time_rows = cTimeRows(p.timeRows)
        r.supervision_steps = Int32(clamping: p.supervisionSteps)
        out.pointee = r
    }
}
