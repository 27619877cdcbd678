/// A model's tensors by name: what a model file holds, what a state dict exchanges (docs/formats.md).
extension Model {
    /// The official DIS code's name of the time table (docs/formats.md); files written before 0.4 used this one.
    package static let legacyTimeTableName = "time_emb.embedding_weight"

    /// Every tensor of the model in file order: the trainable weights in PyTorch's registration order, then
    /// the buffers `puzzle_emb.weights` (when the model has a puzzle prefix), `H_init` and `L_init`.
    public var namedTensors: [(name: String, shape: [Int], values: UnsafeMutableBufferPointer<Float>)] {
        var out = layout.specs.map { ($0.name, $0.shape, UnsafeMutableBufferPointer(start: weights + $0.offset, count: $0.count)) }
        if config.puzzleEmbLen > 0 {
            let shape = [config.numPuzzleIdentifiers, config.puzzleEmbDim]
            out.append(("puzzle_emb.weights", shape, UnsafeMutableBufferPointer(start: puzzleEmbedding, count: shape[0] * shape[1])))
        }
        out.append(("H_init", [config.hiddenSize], UnsafeMutableBufferPointer(start: hInit, count: config.hiddenSize)))
        out.append(("L_init", [config.hiddenSize], UnsafeMutableBufferPointer(start: lInit, count: config.hiddenSize)))
        return out
    }

    /// A read-write view of one named tensor (trainable or buffer); nil for a name the model does not have.
    public func tensor(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        namedTensors.first { $0.name == name }?.values
    }

    /// Replaces one tensor's values, all or nothing: the name must be the model's, `values` must hold
    /// exactly its element count, and every value must be finite.
    public func setTensor(_ name: String, _ values: UnsafeBufferPointer<Float>) throws(TRMError) {
        guard let target = namedTensors.first(where: { $0.name == name }) else {
            throw .invalidArgument("the model has no tensor '\(name)'")
        }
        guard values.count == target.values.count else {
            throw .invalidArgument("tensor '\(name)' has \(target.values.count) values \(target.shape), got \(values.count)")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw .invalidArgument("tensor '\(name)': value \(bad) is not finite")
        }
        _ = target.values.update(fromContentsOf: values)
    }
}
