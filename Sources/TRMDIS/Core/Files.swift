#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole file.
public func readFile(_ path: String) throws(TRMError) -> [UInt8] {
    guard let f = fopen(path, "rb") else { throw .io("cannot open \(path) for reading (errno \(errno))") }
    defer { fclose(f) }
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { out.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count {
            if ferror(f) != 0 { throw .io("error reading \(path)") }
            break
        }
    }
    return out
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`, so a reader never sees a
/// partial file and a failure leaves any previous file intact.
public func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws(TRMError) {
    let tmp = "\(path).tmp.\(getpid())"
    guard let f = fopen(tmp, "wb") else { throw .io("cannot create \(tmp) (errno \(errno))") }
    let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
    fclose(f)
    guard written == bytes.count, flushed else {
        unlink(tmp)
        throw .io("short write to \(tmp)")
    }
    guard rename(tmp, path) == 0 else {
        unlink(tmp)
        throw .io("cannot rename \(tmp) to \(path) (errno \(errno))")
    }
}

/// Creates a directory and its parents (mkdir -p).
public func makeDirectory(_ path: String) throws(TRMError) {
    var partial = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        partial += "/" + part
        if mkdir(partial, 0o755) != 0 && errno != EEXIST { throw .io("cannot create directory \(partial) (errno \(errno))") }
    }
}
