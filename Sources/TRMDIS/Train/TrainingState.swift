import FoundationEssentials

/// Checkpoints of a training run: `model.safetensors` (the evaluation weights: the EMA copy when EMA is
/// on, in the PyTorch layout) and `state.safetensors`, everything an exact resume needs: the raw weights,
/// the optimiser moments and step, the EMA, the puzzle table, the RNG and sampler positions and, for TRM,
/// every slot's carry and example. The two files are written as one unit (`FileSet`): a reader or a
/// resume sees both from the same save, whatever interrupts it. The state does not depend on the
/// number of data-parallel ranks (all ranks hold the same weights, optimiser, RNG and sampler; TRM's slots
/// are gathered to the global batch), so a checkpoint of N ranks resumes on M. Rank 0 alone writes.
extension Trainer {
    public static let modelFile = "model.safetensors"
    public static let stateFile = "state.safetensors"

    /// With a reducer every rank must call this (TRM gathers its slots); only rank 0 writes.
    public func saveCheckpoint(directory: String) throws(TRMError) {
        let gathered = config.method == .trm ? try gatherSlots() : nil
        if let reducer, reducer.rank != 0 { return }
        let evaluationModel = model.safeTensors(weights: ema.map { UnsafePointer($0.shadow) })
        var st = model.safeTensors()
        let n = model.parameterCount
        st.add("optimizer.m", floats: optimizer.m, shape: [n])
        st.add("optimizer.v", floats: optimizer.v, shape: [n])
        if let ema { st.add("ema", floats: ema.shadow, shape: [n]) }
        var words = BatchSampler.words(rng).flatMap { [Int32(truncatingIfNeeded: $0), Int32(truncatingIfNeeded: $0 >> 32)] }
        st.add("rng.trainer", int32s: &words, shape: [8])
        let c = model.config, b = batchSize
        if let gathered {
            st.add("carry.y", floats: gathered.y, shape: [b, c.totalLen, c.hiddenSize])
            st.add("carry.z", floats: gathered.z, shape: [b, c.totalLen, c.hiddenSize])
            st.add("slots.inputs", int32s: gathered.inputs, shape: [b, c.seqLen])
            st.add("slots.labels", int32s: gathered.labels, shape: [b, c.seqLen])
            st.add("slots.puzzle_ids", int32s: gathered.puzzleIds, shape: [b])
            st.add("slots.steps", int32s: gathered.steps, shape: [b])
            var stop = slots.halted.map { Int32($0 ? 1 : 0) }
            st.add("slots.halted", int32s: &stop, shape: [b])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        st.metadata["training_config"] = String(decoding: try! encoder.encode(config), as: UTF8.self)
        st.metadata["sampler"] = String(decoding: try! encoder.encode(sampler.position), as: UTF8.self)
        st.metadata["optimizer_step"] = String(optimizer.step)
        st.metadata["optimizer_steps"] = String(optimizerSteps)
        st.metadata["examples_seen"] = String(examplesSeen)
        st.metadata["dataset_fingerprint"] = datasetFingerprint
        try FileSet.write(directory: directory, files: [(Trainer.modelFile, evaluationModel.encoded()),
                                                        (Trainer.stateFile, st.encoded())])
    }

    /// Rebuilds a trainer from `state.safetensors` in `directory`, on the same examples, as one rank of
    /// `reducer`'s group (any number of ranks, whatever the number that wrote it) or a single process.
    /// A checkpoint records its examples' fingerprint; resuming on other examples is refused unless
    /// `allowOtherDataset` (a checkpoint without one, from before it was recorded, is accepted).
    public static func resume(directory: String, examples: ExampleSet, reducer: GradientReducer? = nil,
                              allowOtherDataset: Bool = false) throws(TRMError) -> Trainer {
        let path = directory + "/" + stateFile
        let st = try SafeTensors.load(path)
        guard let modelJSON = st.metadata[Model.configMetadataKey], let trainJSON = st.metadata["training_config"],
              let samplerJSON = st.metadata["sampler"], let optStep = st.metadata["optimizer_step"].flatMap({ Int($0) }),
              let steps = st.metadata["optimizer_steps"].flatMap({ Int($0) }),
              let seen = st.metadata["examples_seen"].flatMap({ Int($0) }) else {
            throw .format("\(path): missing training-state metadata")
        }
        let config: TrainingConfig, position: BatchSampler.Position
        do {
            config = try JSONDecoder().decode(TrainingConfig.self, from: Data(trainJSON.utf8))
            position = try JSONDecoder().decode(BatchSampler.Position.self, from: Data(samplerJSON.utf8))
        } catch {
            throw .format("\(path): bad training-state metadata (\(error))")
        }
        // Counters a crafted file could set where the first step would overflow them.
        let limit = 1 << 53
        guard (0...limit).contains(optStep), (0...limit).contains(steps), (0...limit).contains(seen) else {
            throw .format("\(path): a step or example counter is outside 0...2^53")
        }
        var tensors = st
        tensors.dropTrainerTensors()
        tensors.renameLegacyTimeTable()
        let modelConfig = try ModelConfig(json: modelJSON, file: path)
        do { try examples.validate(for: modelConfig) } catch {
            guard case .invalidArgument(let m) = error else { throw error }
            throw .invalidArgument("the training examples do not fit the checkpoint's model: \(m)")
        }
        if let recorded = st.metadata["dataset_fingerprint"], recorded != examples.fingerprint, !allowOtherDataset {
            throw .invalidArgument("\(path) was trained on other examples (dataset fingerprint \(recorded), these are "
                + "\(examples.fingerprint)); resume on the same dataset, or allow another one explicitly")
        }
        try Model.checkTensors(tensors, config: modelConfig, file: path)
        let model = try Model(config: modelConfig, seed: 0, initialized: false)
        try model.loadTensors(tensors, file: path)
        let trainer = try Trainer(model: model, examples: examples, config: config, reducer: reducer)
        let n = model.parameterCount
        try st.read("optimizer.m", into: trainer.optimizer.m, shape: [n], file: path)
        try st.read("optimizer.v", into: trainer.optimizer.v, shape: [n], file: path)
        trainer.optimizer.restore(step: optStep)
        if let ema = trainer.ema { try st.read("ema", into: ema.shadow, shape: [n], file: path) }
        for i in 0..<n where !trainer.optimizer.m[i].isFinite || !(trainer.optimizer.v[i] >= 0 && trainer.optimizer.v[i].isFinite)
            || !(trainer.ema.map { $0.shadow[i].isFinite } ?? true) {
            throw .format("\(path): optimiser moment or EMA weight \(i) is not finite (or a second moment is negative)")
        }
        var words = [Int32](repeating: 0, count: 8)
        try st.read("rng.trainer", into: &words, shape: [8], file: path)
        guard words.contains(where: { $0 != 0 }) else { throw .format("\(path): the trainer's random state is all zero") }
        trainer.rng = BatchSampler.rng((0..<4).map { UInt64(UInt32(bitPattern: words[2 * $0])) | UInt64(UInt32(bitPattern: words[2 * $0 + 1])) << 32 })
        try trainer.sampler.restore(position)
        trainer.optimizerSteps = steps
        trainer.examplesSeen = seen
        if config.method == .trm { try trainer.restoreSlots(st, file: path) }
        return trainer
    }
}

extension SafeTensors {
    /// The trainer's own tensors in a `state.safetensors`; what remains is the model's raw weights.
    static let trainerTensorPrefixes = ["optimizer.", "ema", "rng.", "carry.", "slots."]

    mutating func dropTrainerTensors() {
        tensors.removeAll { name, _ in Self.trainerTensorPrefixes.contains { name.hasPrefix($0) } }
    }
}
