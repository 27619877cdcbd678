#if canImport(Glibc)
import Glibc
#endif

/// Writes a set of files so that none is ever seen half-written: every file is first written and
/// fsynced under a new temporary name with an unpredictable suffix, created exclusively
/// (`createTemporary`, which never follows a planted symlink), and only when all of them are complete
/// are they renamed into place. A failure before the renames removes the temporaries and leaves any
/// previous dataset untouched.
struct StagedFiles {
    private var staged: [(tmp: String, path: String)] = []

    /// Writes `bytes` to the temporary beside `path`.
    mutating func stage(_ path: String, _ bytes: [UInt8]) throws(TRMError) {
        let (directory, name) = splitPath(path)
        removeOrphanedTemporaries(in: directory, of: name)
        let fd: Int32, tmp: String
        do { (fd, tmp) = try createTemporary(in: directory, for: name) } catch { discard(); throw error }
        let code = writeAll(fd, bytes)
        guard code == 0 else {
            unlink(tmp)
            discard()
            throw .io("cannot write \(tmp): \(errnoText(code))")
        }
        staged.append((tmp, path))
    }

    /// Renames every staged file into place.
    mutating func commit() throws(TRMError) {
        for (i, (tmp, path)) in staged.enumerated() where rename(tmp, path) != 0 {
            let code = errno
            for (rest, _) in staged[i...] { unlink(rest) }
            staged = []
            throw .io("cannot rename \(tmp) to \(path): \(errnoText(code))")
        }
        for directory in Set(staged.map { splitPath($0.path).0 }) { syncDirectory(directory) }
        staged = []
    }

    /// Removes every staged temporary.
    mutating func discard() {
        for (tmp, _) in staged { unlink(tmp) }
        staged = []
    }
}
