import CTRMDIS
import TRMDIS

/// The global log sink set by trm_log_set; nil discards messages.
private struct LogSink {
    var callback: trm_log_callback?
    var userData: UnsafeMutableRawPointer?
}

nonisolated(unsafe) private var sink = LogSink()

nonisolated(unsafe) private var minimumLevel = TRM_LOG_WARN.rawValue

/// Whether a line of `level` would reach the callback (so callers can skip building it).
func logs(_ level: trm_log_level) -> Bool { sink.callback != nil && level.rawValue >= minimumLevel }

/// Sends one line to the log callback, if any and if `level` passes the filter, on the calling thread.
func log(_ level: trm_log_level, _ message: @autoclosure () -> String) {
    let current = sink
    guard let callback = current.callback, level.rawValue >= minimumLevel else { return }
    let message = message()
    message.withCString { callback(Int32(bitPattern: level.rawValue), $0, current.userData) }
}

@c @implementation
public func trm_log_set_level(_ level: Int32) -> Int32 {
    guarded("trm_log_set_level") { () throws(Failure) in
        guard (Int32(bitPattern: TRM_LOG_DEBUG.rawValue)...Int32(bitPattern: TRM_LOG_ERROR.rawValue)).contains(level) else {
            throw .invalid("level must be a trm_log_level (got \(level))")
        }
        minimumLevel = UInt32(level)
    }
}

@c @implementation
public func trm_log_set(_ callback: trm_log_callback?, _ userData: UnsafeMutableRawPointer?) {
    sink = LogSink(callback: callback, userData: callback == nil ? nil : userData)
    // The one warning of the engine's setup: matrix products on kernels below the CPU (BLASRuntime).
    if callback != nil, let warning = BLASInfo.current.warning { log(TRM_LOG_WARN, "libtrmdis: " + warning) }
}
