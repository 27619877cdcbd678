import CTRMDIS
import TRMDIS

// Checkpoints of the official PyTorch code (Include/trmdis.h, "Checkpoints of the official PyTorch code").

@c @implementation
public func trm_official_params_init(_ params: UnsafeMutablePointer<trm_official_params>?) {
    guard let params else { return }
    params.pointee = trm_official_params(struct_size: MemoryLayout<trm_official_params>.size, config_yaml: nil, seq_len: 0)
}

@c @implementation
public func trm_model_import_official(_ checkpoint: UnsafePointer<CChar>?, _ params: UnsafePointer<trm_official_params>?,
                                      _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("trm_model_import_official") { () throws(Failure) in
        let file = try pathArgument(checkpoint, "checkpoint")
        guard let out else { throw .invalid("out is NULL") }
        var p = trm_official_params()
        trm_official_params_init(&p)
        if let params {
            try checkSize(params.pointee.struct_size, MemoryLayout<trm_official_params>.size, "params", "trm_official_params")
            p = params.pointee
        }
        let config = p.config_yaml == nil ? nil : try pathArgument(p.config_yaml, "params->config_yaml")
        guard p.seq_len >= 0 else { throw .invalid("params->seq_len must be 0 (from the weights or data) or positive (got \(p.seq_len))") }
        let (model, notes) = try engine { () throws(TRMError) in
            try Model.importOfficial(checkpoint: file, config: config, seqLen: p.seq_len > 0 ? Int(p.seq_len) : nil)
        }
        for note in notes { log(TRM_LOG_INFO, "trm_model_import_official: \(note)") }
        out.pointee = Handles.open(ModelHandle(model))
    }
}

@c @implementation
public func trm_model_export_official(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                      _ configYAML: UnsafePointer<CChar>?) -> Int32 {
    guarded("trm_model_export_official") { () throws(Failure) in
        let m = try Handles.model(model)
        let file = try pathArgument(path, "path")
        let config = configYAML == nil ? nil : try pathArgument(configYAML, "config_yaml")
        try engine { () throws(TRMError) in try m.model.exportOfficial(to: file, config: config) }
    }
}
