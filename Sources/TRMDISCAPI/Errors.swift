#if canImport(Glibc)
import Glibc
#endif
import CTRMDIS
import Synchronization
import TRMDIS

/// A failed call: the status it returns and the message trm_last_error gives.
struct Failure: Error {
    let status: trm_status
    let message: String

    init(_ status: trm_status, _ message: String) {
        self.status = status
        self.message = message
    }

    static func invalid(_ message: String) -> Failure { Failure(TRM_ERR_INVALID_ARG, message) }

    /// The engine's errors, case by case.
    init(_ error: TRMError) {
        switch error {
        case .invalidArgument(let m): self.init(TRM_ERR_INVALID_ARG, m)
        case .io(let m): self.init(TRM_ERR_IO, m)
        case .format(let m): self.init(TRM_ERR_FORMAT, m)
        case .aborted(let m): self.init(TRM_ERR_ABORTED, m)
        case .outOfMemory(let m): self.init(TRM_ERR_OOM, m)
        case .numerical(let m): self.init(TRM_ERR_NUMERIC, m)
        }
    }
}

/// Runs an engine call, turning its TRMError into a Failure.
func engine<T>(_ body: () throws(TRMError) -> T) throws(Failure) -> T {
    do { return try body() } catch { throw Failure(error) }
}

/// The body of every fallible export: TRM_OK, or the failure's status with its message recorded
/// (prefixed with the function's name) as the calling thread's last error.
func guarded(_ function: String, _ body: () throws(Failure) -> Void) -> Int32 {
    do {
        try body()
        return status(TRM_OK)
    } catch {
        LastError.set("\(function): \(error.message)")
        return status(error.status)
    }
}

@inline(__always) func status(_ s: trm_status) -> Int32 { Int32(bitPattern: s.rawValue) }

/// Calls that run the engine's kernels right now, on any thread: trm_set_num_threads refuses to replace the
/// thread pool under them.
let callsRunning = Atomic<Int>(0)

/// `guarded` for a call that computes (training, prediction, evaluation): counted in `callsRunning`.
func guardedBusy(_ function: String, _ body: () throws(Failure) -> Void) -> Int32 {
    callsRunning.add(1, ordering: .sequentiallyConsistent)
    defer { callsRunning.subtract(1, ordering: .sequentiallyConsistent) }
    return guarded(function, body)
}

/// A NUL-terminated copy of `s` that lives as long as the process (for static strings).
func permanentCString(_ s: String) -> UnsafePointer<CChar> {
    let count = s.utf8.count
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: count + 1)
    for (i, b) in s.utf8.enumerated() { p[i] = CChar(bitPattern: b) }
    p[count] = 0
    return UnsafePointer(p)
}

/// The calling thread's most recent failure message: a malloc'd C string per thread behind a pthread
/// key, freed when replaced or when the thread exits.
enum LastError {
    private static let empty = permanentCString("")
    /// nil only if pthread_key_create failed; then messages go to one process-wide slot.
    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, { free($0) }) == 0 ? key : nil
    }()
    nonisolated(unsafe) private static var fallback: UnsafeMutablePointer<CChar>?

    static func set(_ message: String) {
        guard let copy = message.withCString({ strdup($0) }) else { return }
        if let key {
            let old = pthread_getspecific(key)
            if pthread_setspecific(key, copy) == 0 { free(old) } else { free(copy) }
        } else {
            free(fallback)
            fallback = copy
        }
    }

    static var current: UnsafePointer<CChar> {
        if let key {
            if let p = pthread_getspecific(key) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
            return empty
        }
        return fallback.map { UnsafePointer($0) } ?? empty
    }
}

private let statusStrings: [UnsafePointer<CChar>] = [
    "ok",
    "invalid argument",
    "I/O error",
    "malformed file",
    "out of memory",
    "aborted",
    "unknown struct size (ABI mismatch)",
    "internal error",
    "non-finite result",
].map(permanentCString)
private let unknownStatus = permanentCString("unknown status")

@c @implementation
public func trm_status_string(_ status: Int32) -> UnsafePointer<CChar>! {
    statusStrings.indices.contains(Int(status)) ? statusStrings[Int(status)] : unknownStatus
}

@c @implementation
public func trm_last_error() -> UnsafePointer<CChar>! {
    LastError.current
}
