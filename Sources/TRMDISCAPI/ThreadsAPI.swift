import CTRMDIS
import TRMDIS


@c @implementation
public func trm_set_num_threads(_ threads: Int32) -> Int32 {
    guarded("trm_set_num_threads") { () throws(Failure) in
        let running = callsRunning.load(ordering: .sequentiallyConsistent)
        guard running == 0 else {
            throw .invalid("cannot change the thread count while \(running) training, prediction or evaluation call(s) run")
        }
        try engine { () throws(TRMError) in try Threads.set(Int(threads)) }
    }
}

@c @implementation
public func trm_get_num_threads() -> Int32 {
    Int32(clamping: Threads.count)
}

@c @implementation
public func trm_get_blas_info(_ out: UnsafeMutablePointer<trm_blas_info>?) -> Int32 {
    guarded("trm_get_blas_info") { () throws(Failure) in
        guard let out else { throw .invalid("out is NULL") }
        try checkSize(out.pointee.struct_size, MemoryLayout<trm_blas_info>.size, "out", "trm_blas_info")
        let b = BLASInfo.current
        var r = trm_blas_info()
        r.struct_size = MemoryLayout<trm_blas_info>.size
        copyCString(b.library, into: &r.library)
        copyCString(b.version, into: &r.version)
        copyCString(b.core, into: &r.core)
        copyCString(b.detectedCore, into: &r.detected_core)
        copyCString(b.isa, into: &r.isa)
        r.corrected = b.corrected ? 1 : 0
        r.core_from_environment = b.coreTypeFromEnvironment == nil ? 0 : 1
        r.threads = Int32(clamping: b.threads)
        r.warning = b.warning == nil ? 0 : 1
        out.pointee = r
    }
}

/// Copies `text` into a fixed C char array (a tuple), cut to fit, always NUL-terminated.
func copyCString<T>(_ text: String, into field: inout T) {
    withUnsafeMutableBytes(of: &field) { raw in
        let bytes = Array(text.utf8.prefix(raw.count - 1))
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
}
