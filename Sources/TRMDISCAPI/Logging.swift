import CTRMDIS
import TRMDIS

/// The global log sink set by trm_log_set; nil discards messages.
private struct LogSink {
    var callback: trm_log_callback?
    var userData: UnsafeMutableRawPointer?
}

nonisolated(unsafe) private var sink = LogSink()

/// Sends one line to the log callback, if any, on the calling thread.
func log(_ level: trm_log_level, _ message: String) {
    let current = sink
    guard let callback = current.callback else { return }
    message.withCString { callback(Int32(bitPattern: level.rawValue), $0, current.userData) }
}

@c @implementation
public func trm_log_set(_ callback: trm_log_callback?, _ userData: UnsafeMutableRawPointer?) {
    sink = LogSink(callback: callback, userData: callback == nil ? nil : userData)
    // The one warning of the engine's setup: matrix products on generic kernels the CPU could beat.
    if callback != nil, let warning = BLASInfo.current.warning { log(TRM_LOG_WARN, "libtrmdis: " + warning) }
}
