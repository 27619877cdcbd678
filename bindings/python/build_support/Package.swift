// swift-tools-version: 6.1
// The library-only manifest an sdist of the Python package builds libtrmdis.so with (bindings/python/setup.py).
// It must describe the CBLAS, TRMDISKernelsC, TRMDIS, CTRMDIS and TRMDISCAPI targets exactly as the repository's
// Package.swift does.
import PackageDescription

let abiVersion = 3

let package = Package(
    name: "libtrmdis",
    products: [.library(name: "TRMDISCAPI", type: .dynamic, targets: ["TRMDISCAPI"])],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "TRMDISKernelsC"),
        .target(name: "TRMDIS", dependencies: ["CBLAS", "TRMDISKernelsC"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .systemLibrary(name: "CTRMDIS", path: "Include"),
        .target(
            name: "TRMDISCAPI",
            dependencies: ["TRMDIS", "CTRMDIS"],
            exclude: ["exports.map"],
            swiftSettings: [.swiftLanguageMode(.v5), .enableExperimentalFeature("CImplementation")],
            linkerSettings: [.unsafeFlags([
                "-use-ld=lld",
                "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/TRMDISCAPI/exports.map",
                "-Xlinker", "-soname=libtrmdis.so.\(abiVersion)",
            ])]
        ),
    ]
)
