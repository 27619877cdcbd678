/// Data-parallel training (docs/distributed.md): `size` processes each hold a replica of the model and the
/// whole training set. Every rank draws the same global batch and computes its own contiguous slice of it;
/// after each backward the trainer sums the gradients over the ranks with `allReduceSum` (the dense
/// gradients and the gathered puzzle-embedding rows in one flat buffer, one call), so every rank takes the
/// same optimiser step and the replicas stay equal. The engine knows no transport: the MPI command line
/// (`trmdis-mpi`) and the C API's callback (e.g. mpi4py's Allreduce) implement this.
public protocol GradientReducer: AnyObject {
    /// This process's rank, 0..<size. Rank 0 writes checkpoints and evaluates.
    var rank: Int { get }
    /// The number of processes training together, >= 1.
    var size: Int { get }
    /// Replaces data[0..<count] with its element-wise sum over all ranks. Every rank calls it with the same
    /// count in the same order. Throws when the transport fails (a rank died, a callback reported an error);
    /// the trainer then stops with that error.
    func allReduceSum(_ data: UnsafeMutablePointer<Float>, count: Int) throws(TRMError)
}

extension GradientReducer {
    /// Checks rank and size, and that `batchSize` gives every rank at least one example.
    func validate(batchSize: Int) throws(TRMError) {
        guard size >= 1, (0..<size).contains(rank) else {
            throw .invalidArgument("data-parallel rank \(rank) is outside [0, \(size))")
        }
        guard batchSize >= size else {
            throw .invalidArgument("the global batch size \(batchSize) is smaller than the \(size) ranks")
        }
    }

    /// The slots of the global batch this rank computes: ranks get contiguous slices of floor or ceil(B/size).
    func slice(of batchSize: Int) -> Range<Int> {
        (rank * batchSize / size)..<((rank + 1) * batchSize / size)
    }
}
