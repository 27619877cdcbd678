#if canImport(Glibc)
import Glibc
#endif

/// Writes a set of files so that none is ever seen half-written: every file is first written and
/// fsynced under a temporary name (`path.tmp.<pid>`), and only when all of them are complete are they
/// renamed into place. A failure before the renames removes the temporaries and leaves any previous
/// dataset untouched.
struct StagedFiles {
    private var staged: [(tmp: String, path: String)] = []

    /// Writes `bytes` to the temporary beside `path`.
    mutating func stage(_ path: String, _ bytes: [UInt8]) throws(TRMError) {
        let tmp = "\(path).tmp.\(getpid())"
        guard let f = fopen(tmp, "wb") else {
            discard()
            throw .io("cannot create \(tmp) (errno \(errno))")
        }
        let written = bytes.withUnsafeBytes { $0.isEmpty ? 0 : fwrite($0.baseAddress, 1, $0.count, f) }
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        let closed = fclose(f) == 0
        guard written == bytes.count, flushed, closed else {
            unlink(tmp)
            discard()
            throw .io("short write to \(tmp)")
        }
        staged.append((tmp, path))
    }

    /// Renames every staged file into place.
    mutating func commit() throws(TRMError) {
        for (i, (tmp, path)) in staged.enumerated() where rename(tmp, path) != 0 {
            let code = errno
            for (rest, _) in staged[i...] { unlink(rest) }
            staged = []
            throw .io("cannot rename \(tmp) to \(path) (errno \(code))")
        }
        staged = []
    }

    /// Removes every staged temporary.
    mutating func discard() {
        for (tmp, _) in staged { unlink(tmp) }
        staged = []
    }
}
