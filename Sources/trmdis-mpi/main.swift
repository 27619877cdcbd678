import ArgumentParser
import TRMDIS
import TRMDISCommands
#if canImport(Glibc)
import Glibc
#endif

/// `mpirun -np N trmdis-mpi train ...`: the `train` command of trmdis, one process per rank, with the
/// gradients summed over MPI (docs/distributed.md). Without --threads each process takes its share of the
/// host's cores (cores / processes on the host).
struct MPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trmdis-mpi",
        abstract: "Data-parallel training over MPI: run under mpirun, one process per rank.",
        subcommands: [Train.self]
    )
}

let mpi = MPIReducer()
DataParallel.reducer = mpi
if let local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE").flatMap({ Int(String(cString: $0)) }), local > 0 {
    DataParallel.defaultThreads = max(1, Threads.count / local)
}
do {
    var command = try MPICommand.parseAsRoot()
    try command.run()
} catch {
    if MPICommand.exitCode(for: error) == .success {  // --help and the like
        if mpi.rank == 0 { print(MPICommand.fullMessage(for: error)) }
        mpi.finalize()
        exit(0)
    }
    // Say which rank failed and why, then end the whole job: the other ranks would otherwise wait in
    // their next all-reduce forever.
    fputs("trmdis-mpi: rank \(mpi.rank) of \(mpi.size): \(MPICommand.fullMessage(for: error))\n", stderr)
    mpi.abort(MPICommand.exitCode(for: error).rawValue)
}
mpi.finalize()
