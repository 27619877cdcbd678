import Testing
@testable import TRMDIS
#if canImport(Glibc)
import Glibc
#endif

@Suite struct VersionTests {
    /// The engine's version (shown by `trmdis --version`) is the header's, and so is the ABI number.
    @Test func versionMatchesTheHeader() throws {
        let header = String(decoding: try readFile(#filePath.replacingSuffix("Tests/TRMDISTests/VersionTests.swift",
                                                                             with: "Include/trmdis.h")), as: UTF8.self)
        func define(_ name: String) -> String? {
            header.split(separator: "\n").first { $0.hasPrefix("#define \(name) ") }.map { String($0.split(separator: " ")[2]) }
        }
        #expect([define("TRM_VERSION_MAJOR"), define("TRM_VERSION_MINOR"), define("TRM_VERSION_PATCH")]
            .compactMap { $0 }.joined(separator: ".") == trmdisVersion)
        #expect(define("TRM_ABI_VERSION") == String(trmdisABI))
    }
}

extension String {
    func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}
