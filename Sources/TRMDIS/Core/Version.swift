/// The library's version and C ABI number; Include/trmdis.h's TRM_VERSION_* and TRM_ABI_VERSION must match
/// (VersionTests checks).
public let trmdisVersion = "0.5.0"
public let trmdisABI = 3
