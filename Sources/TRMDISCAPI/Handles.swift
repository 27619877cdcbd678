#if canImport(Glibc)
import Glibc
#endif
import TRMDIS

/// What a trm_model * points at.
final class ModelHandle {
    let model: Model
    init(_ model: Model) { self.model = model }
}

/// What a trm_runner * points at. It holds its model's handle, so the model outlives trm_model_free
/// while runners use it.
final class RunnerHandle {
    let runner: Runner
    let model: ModelHandle
    init(_ runner: Runner, model: ModelHandle) {
        self.runner = runner
        self.model = model
    }
}

/// The live handles. A handle is the object's unretained address; the table holds the strong
/// reference, so a pointer the library did not hand out (freed twice, garbage, or a runner passed as a
/// model) is refused instead of dereferenced.
enum Handles {
    private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
        return m
    }()
    nonisolated(unsafe) private static var live: [UnsafeMutableRawPointer: AnyObject] = [:]

    private static func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Registers `object` and returns its handle.
    static func open(_ object: AnyObject) -> OpaquePointer {
        let address = Unmanaged.passUnretained(object).toOpaque()
        locked { live[address] = object }
        return OpaquePointer(address)
    }

    /// Unregisters a handle of type T, dropping the table's reference; false if no such handle is live.
    static func close<T: AnyObject>(_ handle: OpaquePointer, as _: T.Type) -> Bool {
        let address = UnsafeMutableRawPointer(handle)
        let object: AnyObject? = locked {
            guard live[address] is T else { return nil }
            return live.removeValue(forKey: address)
        }
        return object != nil  // the object is released here, outside the lock
    }

    static func model(_ handle: OpaquePointer?) throws(Failure) -> ModelHandle {
        guard let handle else { throw .invalid("model is NULL") }
        guard let m = locked({ live[UnsafeMutableRawPointer(handle)] }) as? ModelHandle else {
            throw .invalid("model is not a live trm_model handle")
        }
        return m
    }

    static func runner(_ handle: OpaquePointer?) throws(Failure) -> RunnerHandle {
        guard let handle else { throw .invalid("runner is NULL") }
        guard let r = locked({ live[UnsafeMutableRawPointer(handle)] }) as? RunnerHandle else {
            throw .invalid("runner is not a live trm_runner handle")
        }
        return r
    }
}
