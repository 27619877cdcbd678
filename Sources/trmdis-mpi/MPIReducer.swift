import CMPI
import TRMDIS

/// The GradientReducer of trmdis-mpi: MPI_Allreduce (in place, MPI_SUM over floats) on MPI_COMM_WORLD.
/// Errors are returned rather than fatal (MPI_ERRORS_RETURN), so a failed collective becomes a TRMError
/// that names the rank; mpirun itself ends the job when a process dies.
final class MPIReducer: GradientReducer {
    let rank: Int
    let size: Int
    private let world = trm_mpi_comm_world()

    init() {
        MPI_Init(nil, nil)
        MPI_Comm_set_errhandler(world, trm_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r)
        size = Int(s)
    }

    func allReduceSum(_ data: UnsafeMutablePointer<Float>, count: Int) throws(TRMError) {
        var offset = 0
        while offset < count {  // MPI counts are int: chunks below 2^31
            let chunk = min(count - offset, Int(Int32.max))
            let rc = MPI_Allreduce(trm_mpi_in_place(), data + offset, Int32(chunk), trm_mpi_float(), trm_mpi_sum(), world)
            if rc != 0 { throw .io("MPI_Allreduce failed on rank \(rank) of \(size): \(Self.message(rc))") }
            offset += chunk
        }
    }

    /// Ends every process of the job (after an error on this one, so the others do not wait forever).
    func abort(_ code: Int32) -> Never {
        MPI_Abort(world, code)
        fatalError("MPI_Abort returned")
    }

    func finalize() { MPI_Finalize() }

    static func message(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(trm_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
