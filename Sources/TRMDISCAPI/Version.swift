import CTRMDIS

private let versionString = permanentCString(
    "\(TRM_VERSION_MAJOR).\(TRM_VERSION_MINOR).\(TRM_VERSION_PATCH)")

@c @implementation
public func trm_version() -> UnsafePointer<CChar>! {
    versionString
}

@c @implementation
public func trm_abi_version() -> UInt32 {
    UInt32(TRM_ABI_VERSION)
}
