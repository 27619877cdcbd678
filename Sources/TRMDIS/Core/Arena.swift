#if canImport(Glibc)
import Glibc
#endif

/// Owns every buffer of one model or one runner. Buffers are allocated once, when the owner is built
/// (64-byte aligned, zero-filled), and freed together when the arena goes away: nothing is allocated
/// per step.
package final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    /// Bytes allocated so far.
    package private(set) var bytes: Int = 0

    package init() {}

    deinit { for block in blocks { free(block) } }

    /// A zero-filled block of `byteCount` bytes. Large requests are checked against the memory this
    /// process may still use (MemoryBudget) first; a refused or failed allocation throws `.outOfMemory`,
    /// and the blocks allocated so far are freed with the arena.
    private func raw(_ byteCount: Int) throws(TRMError) -> UnsafeMutableRawPointer {
        guard byteCount >= 0, byteCount <= Int.max - 63 else { throw .outOfMemory("a buffer of \(byteCount) bytes") }
        let size = max(64, (byteCount + 63) & ~63)
        try MemoryBudget.check(bytes: size, "one buffer of the model, runner or trainer")
        var pointer: UnsafeMutableRawPointer?
        guard posix_memalign(&pointer, 64, size) == 0, let p = pointer else {
            throw .outOfMemory("allocating a buffer of \(MemoryBudget.gib(size)) GiB failed")
        }
        memset(p, 0, size)
        blocks.append(p)
        bytes += size
        return p
    }

    package func floats(_ count: Int) throws(TRMError) -> UnsafeMutablePointer<Float> {
        try raw(try Arena.bytes(count, MemoryLayout<Float>.stride)).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    package func doubles(_ count: Int) throws(TRMError) -> UnsafeMutablePointer<Double> {
        try raw(try Arena.bytes(count, MemoryLayout<Double>.stride)).bindMemory(to: Double.self, capacity: max(count, 1))
    }

    package func int32s(_ count: Int) throws(TRMError) -> UnsafeMutablePointer<Int32> {
        try raw(try Arena.bytes(count, MemoryLayout<Int32>.stride)).bindMemory(to: Int32.self, capacity: max(count, 1))
    }

    /// count · width, refusing a negative count or an overflow.
    static func bytes(_ count: Int, _ width: Int) throws(TRMError) -> Int {
        let (n, overflow) = max(0, count).multipliedReportingOverflow(by: width)
        guard !overflow, count >= 0 else { throw .outOfMemory("a buffer of \(count) elements") }
        return n
    }
}
