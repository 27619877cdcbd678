#if canImport(Glibc)
import Glibc
#endif

/// The text of an errno value: "No such file or directory (errno 2)".
package func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return "\(String(cString: text)) (errno \(code))"
}

/// A regular file opened for reading. FIFOs, devices, sockets and directories are refused before a byte is
/// read (a FIFO would block forever, /dev/zero would never end), and every length read from a file's own
/// header can be checked against `size` before anything is allocated for it (docs/engine.md, "Threat model").
package final class InputFile {
    package let path: String
    /// The file's length in bytes when it was opened.
    package let size: Int
    private let fd: Int32
    /// Bytes consumed by `read`.
    package private(set) var offset = 0

    package init(_ path: String) throws(TRMError) {
        self.path = path
        // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path) for reading: \(errnoText(errno))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw .io("cannot stat \(path): \(errnoText(e))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw .io("\(path) is not a regular file (\(InputFile.kind(st.st_mode))); only regular files are read")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        self.fd = fd
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    /// Bytes not yet read.
    package var remaining: Int { max(0, size - offset) }

    /// The next `count` bytes; a format error naming `what` if the file holds fewer.
    package func read(_ count: Int, _ what: String) throws(TRMError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw .format("\(path): truncated: \(what) needs \(count) bytes, \(remaining) are left")
        }
        try MemoryBudget.check(bytes: count, "reading \(what) of \(path)")
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        let path = self.path, fd = self.fd
        let failure: TRMError? = out.withUnsafeMutableBytes { raw in
            while done < count {
                let n = Glibc.read(fd, raw.baseAddress! + done, count - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return .io("error reading \(path): \(errnoText(errno))") }
                if n == 0 { return .format("\(path): the file shrank while it was read") }
                done += n
            }
            return nil
        }
        if let failure { throw failure }
        offset += count
        return out
    }

    /// Everything not yet read.
    package func readRest(_ what: String) throws(TRMError) -> [UInt8] { try read(remaining, what) }
}

/// Reads a whole regular file.
package func readFile(_ path: String) throws(TRMError) -> [UInt8] {
    try InputFile(path).readRest("the file")
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a partial one, and a
/// failure leaves any previous file intact: a new temporary file with an unpredictable name in the same
/// directory, created exclusively (a symlink planted there is never followed), synced, renamed over `path`,
/// then the directory synced. Temporary files that a killed writer left beside `path` are removed.
package func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws(TRMError) {
    let (directory, name) = splitPath(path)
    removeOrphanedTemporaries(in: directory, of: name)
    let (fd, tmp) = try createTemporary(in: directory, for: name)
    let failure = writeAll(fd, bytes)
    guard failure == 0 else {
        unlink(tmp)
        throw .io("cannot write \(path): \(errnoText(failure))")
    }
    guard rename(tmp, path) == 0 else {
        let e = errno
        unlink(tmp)
        throw .io("cannot rename \(tmp) to \(path): \(errnoText(e))")
    }
    syncDirectory(directory)
}

/// Writes every byte to `fd`, fsyncs and closes it; 0 or the errno of the first failure.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
    var done = 0
    var failure: Int32 = 0
    bytes.withUnsafeBytes { raw in
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { failure = n < 0 ? errno : EIO; return }
            done += n
        }
    }
    if failure == 0 && fsync(fd) != 0 { failure = errno }
    if close(fd) != 0 && failure == 0 { failure = errno }
    return failure
}

/// (directory, last component) of a path; the directory is "." for a bare name.
func splitPath(_ path: String) -> (String, String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
}

/// The prefix of the temporary files written for `name`; they also carry the writer's process id.
func temporaryPrefix(_ name: String) -> String { ".\(name).tmp-" }

/// Creates `directory/.name.tmp-PID-RANDOM` with O_CREAT | O_EXCL | O_NOFOLLOW, mode 0644.
func createTemporary(in directory: String, for name: String) throws(TRMError) -> (Int32, String) {
    var fd: Int32 = -1
    let tmp = try createFresh(in: directory, prefix: temporaryPrefix(name), "a temporary file") { path in
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        return fd >= 0
    }
    return (fd, tmp)
}

/// Creates something new at `directory/PREFIX PID-RANDOM` with `create`, which must fail with EEXIST when
/// the name is taken (O_EXCL, mkdir, symlink): a fresh, unpredictable name; returns the path.
func createFresh(in directory: String, prefix: String, _ what: String,
                 _ create: (String) -> Bool) throws(TRMError) -> String {
    for _ in 0..<16 {
        let path = "\(directory)/\(prefix)\(getpid())-\(randomHex())"
        if create(path) { return path }
        if errno != EEXIST { throw .io("cannot create \(what) in \(directory): \(errnoText(errno))") }
    }
    throw .io("cannot create \(what) in \(directory): every name tried exists")
}

/// Removes `.name.tmp-PID-*` entries of `directory` whose writer process is gone (a kill during a save
/// leaves them). Entries of live processes are left alone: they may be writing right now.
func removeOrphanedTemporaries(in directory: String, of name: String) {
    let prefix = temporaryPrefix(name)
    for entry in directoryEntries(directory) where entry.hasPrefix(prefix) {
        let rest = entry.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]) else { continue }
        if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { removeTree("\(directory)/\(entry)") }
    }
}

/// The names in a directory (without "." and ".."); empty if it cannot be read.
func directoryEntries(_ directory: String) -> [String] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Removes a file, a symlink (not what it points at) or a directory tree.
func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) == S_IFDIR {
        for entry in directoryEntries(path) { removeTree("\(path)/\(entry)") }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// fsync of a directory, so that a rename in it survives a crash.
func syncDirectory(_ directory: String) {
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
}

/// 16 hex digits from the kernel's random source (a clock-based fallback never repeats within a process).
func randomHex() -> String {
    var value: UInt64 = 0
    let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    let got = fd >= 0 ? read(fd, &value, 8) : -1
    if fd >= 0 { close(fd) }
    if got != 8 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        value = UInt64(bitPattern: Int64(ts.tv_nsec)) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: Int64(ts.tv_sec))
    }
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// Creates `path` (and its parents) if needed and checks that a file can be created in it.
package func checkWritableDirectory(_ path: String) throws(TRMError) {
    try makeDirectory(path)
    let (fd, tmp) = try createTemporary(in: path, for: "write-check")
    close(fd)
    unlink(tmp)
}

/// Creates a directory and its parents (mkdir -p).
package func makeDirectory(_ path: String) throws(TRMError) {
    var partial = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        partial += "/" + part
        if mkdir(partial, 0o755) != 0 && errno != EEXIST {
            throw .io("cannot create directory \(partial): \(errnoText(errno))")
        }
    }
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
        throw .io("\(path) exists and is not a directory")
    }
}
