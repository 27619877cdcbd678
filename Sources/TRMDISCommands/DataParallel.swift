import TRMDIS
import TRMDISTasks

/// What trmdis-mpi hands the shared `train` command: the MPI group (nil in trmdis-cli, a single process)
/// and the default thread count per process when --threads is not given.
public enum DataParallel {
    public nonisolated(unsafe) static var reducer: GradientReducer?
    public nonisolated(unsafe) static var defaultThreads: Int?
}
