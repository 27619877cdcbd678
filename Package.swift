// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "libtrmdis",
    products: [
        // The native Swift API (a source dependency; Swift has no stable ABI on Linux).
        .library(name: "TRMDIS", targets: ["TRMDIS"]),
        // libtrmdis.so: the C ABI declared in Include/trmdis.h.
        .library(name: "trmdis", type: .dynamic, targets: ["TRMDISCAPI"]),
        .executable(name: "trmdis-cli", targets: ["trmdis"]),
        // The command line linked with OpenMPI for data-parallel training (`mpirun -np N trmdis-mpi train`);
        // a separate executable so that libtrmdis.so and trmdis-cli never depend on libmpi.
        .executable(name: "trmdis-mpi", targets: ["trmdis-mpi"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // The engine: layers, model, recursion, losses. Standard library + OpenBLAS only.
        .target(
            name: "TRMDIS",
            dependencies: ["CBLAS"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The hand-written C header, imported so the compiler checks every export against it.
        .systemLibrary(name: "CTRMDIS", path: "Include"),
        // The C boundary: validation, conversion and error mapping only.
        .target(
            name: "TRMDISCAPI",
            dependencies: ["TRMDIS", "CTRMDIS"],
            exclude: ["exports.map"],
            swiftSettings: [.swiftLanguageMode(.v5), .enableExperimentalFeature("CImplementation")],
            // Export only trm_*: the version script hides everything else, and lld (unlike the default
            // gold) leaves no hidden Swift metadata symbols behind in the dynamic symbol table.
            linkerSettings: [.unsafeFlags([
                "-use-ld=lld",
                "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/TRMDISCAPI/exports.map",
            ])]
        ),
        // The command line's commands, shared by trmdis-cli and trmdis-mpi.
        .target(
            name: "TRMDISCommands",
            dependencies: ["TRMDIS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/trmdis",
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "trmdis",
            dependencies: ["TRMDISCommands"],
            path: "Sources/trmdis-cli",
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // OpenMPI's C API (Debian: libopenmpi-dev, pkg-config ompi-c), used by trmdis-mpi only.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        .executableTarget(
            name: "trmdis-mpi",
            dependencies: ["TRMDISCommands", "CMPI"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The Swift example (`swift run -c release swift-example`).
        .executableTarget(
            name: "swift-example",
            dependencies: ["TRMDIS"],
            path: "examples/swift",
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "TRMDISTests",
            dependencies: ["TRMDIS"],
            resources: [.copy("Fixtures")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
