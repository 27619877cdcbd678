import CTRMDIS
import TRMDIS

private let maxThreads: Int32 = 1024

@c @implementation
public func trm_set_num_threads(_ threads: Int32) -> Int32 {
    guarded("trm_set_num_threads") { () throws(Failure) in
        guard threads >= 1 && threads <= maxThreads else {
            throw .invalid("threads must be in 1...\(maxThreads) (got \(threads))")
        }
        Threads.set(Int(threads))
    }
}

@c @implementation
public func trm_get_num_threads() -> Int32 {
    Int32(clamping: Threads.count)
}
