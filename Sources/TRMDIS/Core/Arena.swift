#if canImport(Glibc)
import Glibc
#endif

/// Owns every buffer of one model or one runner. Buffers are allocated once, when the owner is built
/// (64-byte aligned, zero-filled), and freed together when the arena goes away: nothing is allocated
/// per step.
public final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    /// Bytes allocated so far.
    public private(set) var bytes: Int = 0

    public init() {}

    deinit { for block in blocks { free(block) } }

    private func raw(_ byteCount: Int) -> UnsafeMutableRawPointer {
        var pointer: UnsafeMutableRawPointer?
        let size = max(64, (byteCount + 63) & ~63)
        guard posix_memalign(&pointer, 64, size) == 0, let p = pointer else {
            fatalError("TRMDIS: out of memory allocating \(byteCount) bytes")
        }
        memset(p, 0, size)
        blocks.append(p)
        bytes += size
        return p
    }

    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        raw(count * MemoryLayout<Float>.stride).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    public func doubles(_ count: Int) -> UnsafeMutablePointer<Double> {
        raw(count * MemoryLayout<Double>.stride).bindMemory(to: Double.self, capacity: max(count, 1))
    }

    public func int32s(_ count: Int) -> UnsafeMutablePointer<Int32> {
        raw(count * MemoryLayout<Int32>.stride).bindMemory(to: Int32.self, capacity: max(count, 1))
    }
}
