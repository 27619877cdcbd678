// swift-tools-version: 6.1
import PackageDescription

/// TRM_ABI_VERSION of Include/trmdis.h: the C library's SONAME is libtrmdis.so.<this>.
let abiVersion = 3

let package = Package(
    name: "libtrmdis",
    products: [
        // The native Swift API (a source dependency; Swift has no stable ABI on Linux).
        .library(name: "TRMDIS", targets: ["TRMDIS"]),
        // The C ABI declared in Include/trmdis.h: libTRMDISCAPI.so, which `make lib` installs as
        // build/lib/libtrmdis.so.<ABI> (its SONAME) with the libtrmdis.so link beside it.
        .library(name: "TRMDISCAPI", type: .dynamic, targets: ["TRMDISCAPI"]),
        // The command line.
        .executable(name: "trmdis", targets: ["trmdis"]),
        // The command line linked with OpenMPI for data-parallel training (`mpirun -np N trmdis-mpi train`);
        // a separate executable so that libtrmdis.so and trmdis never depend on libmpi.
        .executable(name: "trmdis-mpi", targets: ["trmdis-mpi"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The declarations the engine needs to call OpenBLAS, which it loads at run time (libopenblas.so.0,
        // Debian's libopenblas0; Sources/TRMDIS/Core/BLASRuntime.swift says why it is not linked).
        .systemLibrary(name: "CBLAS"),
        // AVX2 twins of the engine's elementwise kernels in C (a target attribute per function, no build flag),
        // chosen at run time on CPUs with AVX2 and FMA (Sources/TRMDIS/Core/Elementwise.swift).
        .target(name: "TRMDISKernelsC"),
        // The engine: layers, model, recursion, losses, trainers, inference, the dataset format. It knows no
        // puzzle. Standard library, FoundationEssentials and OpenBLAS only (and its own C kernels above).
        .target(
            name: "TRMDIS",
            dependencies: ["CBLAS", "TRMDISKernelsC"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Beside the engine: puzzle generators, solvers, checkers and the ARC tooling, used by the command
        // line, the experiments and the tests; libtrmdis.so does not link it.
        .target(
            name: "TRMDISTasks",
            dependencies: ["TRMDIS"],
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
                "-Xlinker", "-soname=libtrmdis.so.\(abiVersion)",
            ])]
        ),
        // The command line's commands, shared by trmdis and trmdis-mpi.
        .target(
            name: "TRMDISCommands",
            dependencies: ["TRMDIS", "TRMDISTasks", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "trmdis",
            dependencies: ["TRMDISCommands"],
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
            dependencies: ["TRMDIS", "TRMDISTasks"],
            path: "examples/swift",
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "TRMDISTests",
            dependencies: ["TRMDIS", "TRMDISTasks"],
            resources: [.copy("Fixtures")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
