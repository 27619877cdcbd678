import CTRMDIS
import TRMDIS

/// The data-parallel fields of trm_train_params: the host program's all-reduce callback (e.g. mpi4py's
/// Allreduce) as the engine's GradientReducer. A non-zero return becomes TRM_ERR_IO with the rank named.
final class CallbackReducer: GradientReducer {
    let rank: Int
    let size: Int
    private let function: trm_allreduce_fn
    private let userData: UnsafeMutableRawPointer?

    init(rank: Int, size: Int, function: trm_allreduce_fn, userData: UnsafeMutableRawPointer?) {
        self.rank = rank
        self.size = size
        self.function = function
        self.userData = userData
    }

    func allReduceSum(_ data: UnsafeMutablePointer<Float>, count: Int) throws(TRMError) {
        let rc = function(userData, data, count)
        guard rc == 0 else {
            throw .io("the allreduce callback returned \(rc) on rank \(rank) of \(size) (the ranks' weights may now "
                      + "differ: resume from the last checkpoint)")
        }
    }
}

let maxWorldSize: Int32 = 1 << 16

/// The reducer `p` asks for: nil for a single process without a callback; every field checked.
func reducer(from p: trm_train_params, batchSize: Int?) throws(Failure) -> GradientReducer? {
    guard p.world_size >= 1 && p.world_size <= maxWorldSize else {
        throw .invalid("params->world_size must be in 1...\(maxWorldSize) (got \(p.world_size))")
    }
    guard p.rank >= 0 && p.rank < p.world_size else {
        throw .invalid("params->rank must be in 0...\(p.world_size - 1) (got \(p.rank))")
    }
    if let batchSize, batchSize < Int(p.world_size) {
        throw .invalid("params->batch_size \(batchSize) is smaller than params->world_size \(p.world_size): "
                       + "every rank needs at least one example of the global batch")
    }
    guard let function = p.allreduce else {
        guard p.world_size == 1 else { throw .invalid("params->allreduce is NULL but params->world_size is \(p.world_size)") }
        return nil
    }
    return CallbackReducer(rank: Int(p.rank), size: Int(p.world_size), function: function,
                           userData: p.allreduce_user_data)
}
