#if canImport(Glibc)
import Glibc
#endif

/// Writes several files into a directory as one unit, so that a reader (or a resume after `kill -9`, a full
/// disk, a power cut) sees either the previous set or the new one, never a mix (docs/formats.md,
/// "Checkpoints"). Each save writes a new hidden generation directory `.gen-PID-RANDOM` with every file,
/// synced, then switches the symlink `.current` to it with one atomic rename. The names users open,
/// `directory/NAME`, are symlinks to `.current/NAME`, created once. Superseded and orphaned generations are
/// removed after the switch. Files of an older, plain layout are first moved into a generation of their
/// own by hard links, so even that migration never shows a mixed pair.
package enum FileSet {
    static let current = ".current"
    static let generationPrefix = ".gen-"

    package static func write(directory: String, files: [(name: String, bytes: [UInt8])]) throws(TRMError) {
        try makeDirectory(directory)
        let names = files.map(\.name)
        try adoptPlainFiles(directory: directory, names: names)
        if readLink("\(directory)/\(current)") != nil { try linkNames(directory: directory, names: names) }
        let generation = try makeGeneration(directory)
        for (name, bytes) in files {
            let path = "\(directory)/\(generation)/\(name)"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                let e = errno
                removeTree("\(directory)/\(generation)")
                throw .io("cannot create \(path): \(errnoText(e))")
            }
            let failure = writeAll(fd, bytes)
            guard failure == 0 else {
                removeTree("\(directory)/\(generation)")
                throw .io("cannot write \(path): \(errnoText(failure))")
            }
        }
        syncDirectory("\(directory)/\(generation)")
        try pointCurrent(directory: directory, at: generation)
        try linkNames(directory: directory, names: names)
        removeStaleGenerations(directory: directory, names: names)
    }

    /// A new, empty generation directory's name.
    static func makeGeneration(_ directory: String) throws(TRMError) -> String {
        let path = try createFresh(in: directory, prefix: generationPrefix, "a directory") { mkdir($0, 0o755) == 0 }
        return splitPath(path).1
    }

    /// Makes `.current` point at `generation` with one rename of a new symlink over it.
    static func pointCurrent(directory: String, at generation: String) throws(TRMError) {
        try replaceWithSymlink("\(directory)/\(current)", target: generation)
    }

    /// Makes each `directory/NAME` the symlink `.current/NAME` (left alone when it already is).
    static func linkNames(directory: String, names: [String]) throws(TRMError) {
        for name in names where readLink("\(directory)/\(name)") != "\(current)/\(name)" {
            try replaceWithSymlink("\(directory)/\(name)", target: "\(current)/\(name)")
        }
        syncDirectory(directory)
    }

    /// Atomically replaces whatever `path` is (nothing, a file, a symlink) with a symlink to `target`.
    static func replaceWithSymlink(_ path: String, target: String) throws(TRMError) {
        let (directory, name) = splitPath(path)
        let tmp = try createFresh(in: directory, prefix: temporaryPrefix(name), "a symlink") { symlink(target, $0) == 0 }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw .io("cannot rename a symlink to \(path): \(errnoText(e))")
        }
        syncDirectory(directory)
    }

    /// A set written by an older version as plain files becomes a generation by hard links, then the
    /// plain names become symlinks to it: every step shows the same, complete set.
    static func adoptPlainFiles(directory: String, names: [String]) throws(TRMError) {
        let plain = names.filter { isRegularFile("\(directory)/\($0)") }
        guard !plain.isEmpty, readLink("\(directory)/\(current)") == nil else { return }
        let generation = try makeGeneration(directory)
        for name in plain where link("\(directory)/\(name)", "\(directory)/\(generation)/\(name)") != 0 {
            let e = errno
            removeTree("\(directory)/\(generation)")
            throw .io("cannot link \(directory)/\(name) into \(generation): \(errnoText(e))")
        }
        syncDirectory("\(directory)/\(generation)")
        try pointCurrent(directory: directory, at: generation)
        try linkNames(directory: directory, names: plain)
    }

    /// Removes every generation but the current one, when its writer is gone or is this process; and the
    /// temporary symlinks of dead writers.
    static func removeStaleGenerations(directory: String, names: [String]) {
        let live = readLink("\(directory)/\(current)")
        for entry in directoryEntries(directory) where entry.hasPrefix(generationPrefix) && entry != live {
            let rest = entry.dropFirst(generationPrefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]) else { continue }
            if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) { removeTree("\(directory)/\(entry)") }
        }
        for name in names + [current] { removeOrphanedTemporaries(in: directory, of: name) }
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}
