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

/// What a trm_dataset * points at: an immutable example set (arrays shared copy-on-write with the
/// trainers and evaluations that use it).
final class DatasetHandle {
    let examples: ExampleSet
    init(_ examples: ExampleSet) { self.examples = examples }
}

/// The live handles. A handle is not an address but a token drawn from a counter that never repeats in
/// the process, so a stale handle (freed, then freed or used again after its memory was reused by a new
/// object) is refused instead of reaching the new object; so are garbage and a handle of another kind.
/// The table holds the strong reference. Each entry counts its registrations: a trainer registers its
/// model once more, so the model handle stays valid for trm_trainer_model after the caller's
/// trm_model_free, and is unregistered when both are gone.
enum Handles {
    private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
        return m
    }()
    nonisolated(unsafe) private static var live: [UInt: (object: AnyObject, count: Int)] = [:]
    nonisolated(unsafe) private static var tokens: [ObjectIdentifier: UInt] = [:]
    /// The next token: multiples of 16 from 0x10000, so they look like aligned pointers and are never NULL.
    nonisolated(unsafe) private static var nextToken: UInt = 0x10000

    private static func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Registers `object` (once more, if it is already live) and returns its handle.
    @discardableResult
    static func open(_ object: AnyObject) -> OpaquePointer {
        let token: UInt = locked {
            if let token = tokens[ObjectIdentifier(object)], let entry = live[token] {
                live[token] = (entry.object, entry.count + 1)
                return token
            }
            let token = nextToken
            nextToken += 16
            live[token] = (object, 1)
            tokens[ObjectIdentifier(object)] = token
            return token
        }
        return OpaquePointer(bitPattern: token)!
    }

    /// Drops one registration of a handle of type T (and the table's reference with the last one); false if
    /// no such handle is live.
    static func close<T: AnyObject>(_ handle: OpaquePointer, as _: T.Type) -> Bool {
        let token = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
        let object: AnyObject? = locked {
            guard let entry = live[token], entry.object is T else { return nil }
            if entry.count > 1 {
                live[token] = (entry.object, entry.count - 1)
                return entry.object
            }
            tokens[ObjectIdentifier(entry.object)] = nil
            return live.removeValue(forKey: token)?.object
        }
        return object != nil  // the object is released here, outside the lock
    }

    /// The live object of type T behind `handle`; `name` is the argument's name in messages.
    static func lookup<T: AnyObject>(_ handle: OpaquePointer?, _ name: String, _ cType: String) throws(Failure) -> T {
        guard let handle else { throw .invalid("\(name) is NULL") }
        let token = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
        guard let object = locked({ live[token]?.object }) as? T else {
            throw .invalid("\(name) is not a live \(cType) handle")
        }
        return object
    }

    static func model(_ handle: OpaquePointer?) throws(Failure) -> ModelHandle {
        try lookup(handle, "model", "trm_model")
    }

    static func runner(_ handle: OpaquePointer?) throws(Failure) -> RunnerHandle {
        try lookup(handle, "runner", "trm_runner")
    }

    static func dataset(_ handle: OpaquePointer?, _ name: String = "dataset") throws(Failure) -> DatasetHandle {
        try lookup(handle, name, "trm_dataset")
    }

    static func trainer(_ handle: OpaquePointer?) throws(Failure) -> TrainerHandle {
        try lookup(handle, "trainer", "trm_trainer")
    }
}
