import CTRMDIS
import TRMDIS

@c @implementation
public func trm_version() -> UnsafePointer<CChar>! {
    UnsafeRawPointer(versionString).assumingMemoryBound(to: CChar.self)
}

@c @implementation
public func trm_abi_version() -> Int32 { 1 }

private let versionString: UnsafeMutablePointer<CChar> = {
    let s = "0.1.0"
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: s.utf8.count + 1)
    for (i, b) in s.utf8.enumerated() { p[i] = CChar(bitPattern: b) }
    p[s.utf8.count] = 0
    return p
}()
