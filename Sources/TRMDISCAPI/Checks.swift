import CTRMDIS

// The argument checks every export shares: struct sizes, caller buffer lengths, size products.

/// Refuses a struct_size other than this header's sizeof(`cType`).
func checkSize(_ size: Int, _ expected: Int, _ name: String, _ cType: String) throws(Failure) {
    guard size == expected else {
        throw Failure(TRM_ERR_ABI, "\(name)->struct_size is \(size), this library knows only \(expected)"
            + " (sizeof(\(cType)) of ABI \(TRM_ABI_VERSION))")
    }
}

/// n * m * ..., or a Failure naming `what` when the product overflows.
func checkedProduct(_ factors: [Int], _ what: String) throws(Failure) -> Int {
    var result = 1
    for f in factors {
        let (p, overflow) = result.multipliedReportingOverflow(by: f)
        guard !overflow else { throw .invalid("\(what) overflows size_t") }
        result = p
    }
    return result
}

/// Checks that a caller buffer's length `count` (argument `countName`) matches `expected`; a NULL buffer
/// must come with length 0.
func checkBuffer(_ pointer: UnsafeRawPointer?, _ count: Int, expected: Int, _ name: String, _ countName: String,
                 nullable: Bool) throws(Failure)
{
    if pointer == nil {
        guard nullable else { throw .invalid("\(name) is NULL") }
        guard count == 0 else {
            throw .invalid("\(name) is NULL but \(countName) is \(UInt(bitPattern: count)) (must be 0)")
        }
    } else if count != expected {
        throw .invalid("\(countName) is \(UInt(bitPattern: count)), expected \(expected)")
    }
}
