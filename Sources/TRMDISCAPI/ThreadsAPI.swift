import CTRMDIS
import TRMDIS


@c @implementation
public func trm_set_num_threads(_ threads: Int32) -> Int32 {
    guarded("trm_set_num_threads") { () throws(Failure) in
        try engine { () throws(TRMError) in try Threads.set(Int(threads)) }
    }
}

@c @implementation
public func trm_get_num_threads() -> Int32 {
    Int32(clamping: Threads.count)
}
