import Synchronization

/// The stop requests of live trainers, kept apart from the handle table so that
/// trm_trainer_request_stop takes no lock, allocates nothing and never dereferences the caller's pointer:
/// it is safe from any thread and from a signal handler, even while the trainer runs or is being freed.
/// Slot i holds a trainer's handle (a token that is never reused, see Handles; 0 = free) and its stop
/// flag; a trainer claims a slot when it is created and releases it when its object is destroyed.
enum StopRegistry {
    static let capacity = 1024
    private static let addresses: InlineArray<1024, Atomic<UInt>> = InlineArray { _ in Atomic(0) }
    private static let flags: InlineArray<1024, Atomic<Bool>> = InlineArray { _ in Atomic(false) }

    /// A free slot for `address`, its flag cleared; nil when every slot is taken.
    static func claim(_ address: UnsafeMutableRawPointer) -> Int? {
        let key = UInt(bitPattern: address)
        for i in 0..<capacity {
            if addresses[i].compareExchange(expected: 0, desired: key, ordering: .acquiringAndReleasing).exchanged {
                flags[i].store(false, ordering: .sequentiallyConsistent)
                return i
            }
        }
        return nil
    }

    static func release(_ slot: Int) {
        flags[slot].store(false, ordering: .sequentiallyConsistent)
        addresses[slot].store(0, ordering: .sequentiallyConsistent)
    }

    /// Raises the flag of the trainer at `address`; false if no live trainer has that address.
    static func requestStop(_ address: UnsafeMutableRawPointer) -> Bool {
        let key = UInt(bitPattern: address)
        guard key != 0 else { return false }
        for i in 0..<capacity where addresses[i].load(ordering: .sequentiallyConsistent) == key {
            flags[i].store(true, ordering: .sequentiallyConsistent)
            return true
        }
        return false
    }

    static func isRequested(_ slot: Int) -> Bool { flags[slot].load(ordering: .sequentiallyConsistent) }

    static func clear(_ slot: Int) { flags[slot].store(false, ordering: .sequentiallyConsistent) }
}
