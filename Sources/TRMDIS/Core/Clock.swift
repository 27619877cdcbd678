#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time in seconds (clock_gettime; no Foundation).
package func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
