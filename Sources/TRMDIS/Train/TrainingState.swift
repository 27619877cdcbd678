import FoundationEssentials

/// Checkpoints of a training run: `model.safetensors` (the evaluation weights: the EMA copy when EMA is
/// on, in the PyTorch layout) and `state.safetensors`, everything an exact resume needs: the raw weights,
/// the optimiser moments and step, the EMA, the puzzle table, the RNG and sampler positions and, for TRM,
/// every slot's carry and example. Both files are written atomically.
extension Trainer {
    public static let modelFile = "model.safetensors"
    public static let stateFile = "state.safetensors"

    public func saveCheckpoint(directory: String) throws(TRMError) {
        try makeDirectory(directory)
        try model.save(to: directory + "/" + Trainer.modelFile, weights: ema.map { UnsafePointer($0.shadow) })
        var st = model.safeTensors()
        let n = model.parameterCount
        st.add("optimizer.m", floats: optimizer.m, shape: [n])
        st.add("optimizer.v", floats: optimizer.v, shape: [n])
        if let ema { st.add("ema", floats: ema.shadow, shape: [n]) }
        var words = BatchSampler.words(rng).flatMap { [Int32(truncatingIfNeeded: $0), Int32(truncatingIfNeeded: $0 >> 32)] }
        st.add("rng.trainer", int32s: &words, shape: [8])
        let c = model.config, b = batchSize
        if config.method == .trm {
            st.add("carry.y", floats: runner.y, shape: [b, c.totalLen, c.hiddenSize])
            st.add("carry.z", floats: runner.z, shape: [b, c.totalLen, c.hiddenSize])
            st.add("slots.inputs", int32s: inputs, shape: [b, c.seqLen])
            st.add("slots.labels", int32s: labels, shape: [b, c.seqLen])
            st.add("slots.puzzle_ids", int32s: slotPuzzleIds, shape: [b])
            var steps = slotSteps.map { Int32($0) }, stop = halted.map { Int32($0 ? 1 : 0) }
            st.add("slots.steps", int32s: &steps, shape: [b])
            st.add("slots.halted", int32s: &stop, shape: [b])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        st.metadata["training_config"] = String(decoding: try! encoder.encode(config), as: UTF8.self)
        st.metadata["sampler"] = String(decoding: try! encoder.encode(sampler.position), as: UTF8.self)
        st.metadata["optimizer_step"] = String(optimizer.step)
        st.metadata["optimizer_steps"] = String(optimizerSteps)
        st.metadata["examples_seen"] = String(examplesSeen)
        try st.write(to: directory + "/" + Trainer.stateFile)
    }

    /// Rebuilds a trainer from `state.safetensors` in `directory`, on the same examples.
    public static func resume(directory: String, examples: ExampleSet) throws(TRMError) -> Trainer {
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
        let model = try Model(config: try ModelConfig(json: modelJSON, file: path), seed: 0)
        var tensors = st
        let trainerOnly = ["optimizer.", "ema", "rng.", "carry.", "slots."]
        tensors.tensors.removeAll { name, _ in trainerOnly.contains { name.hasPrefix($0) } }
        try model.loadTensors(tensors, file: path)
        let trainer = try Trainer(model: model, examples: examples, config: config)
        let n = model.parameterCount
        try st.read("optimizer.m", into: trainer.optimizer.m, shape: [n], file: path)
        try st.read("optimizer.v", into: trainer.optimizer.v, shape: [n], file: path)
        trainer.optimizer.restore(step: optStep)
        if let ema = trainer.ema { try st.read("ema", into: ema.shadow, shape: [n], file: path) }
        var words = [Int32](repeating: 0, count: 8)
        try st.read("rng.trainer", into: &words, shape: [8], file: path)
        trainer.rng = BatchSampler.rng((0..<4).map { UInt64(UInt32(bitPattern: words[2 * $0])) | UInt64(UInt32(bitPattern: words[2 * $0 + 1])) << 32 })
        try trainer.sampler.restore(position)
        trainer.optimizerSteps = steps
        trainer.examplesSeen = seen
        if config.method == .trm {
            let c = model.config, b = config.batchSize
            try st.read("carry.y", into: trainer.runner.y, shape: [b, c.totalLen, c.hiddenSize], file: path)
            try st.read("carry.z", into: trainer.runner.z, shape: [b, c.totalLen, c.hiddenSize], file: path)
            try st.read("slots.inputs", into: trainer.inputs, shape: [b, c.seqLen], file: path)
            try st.read("slots.labels", into: trainer.labels, shape: [b, c.seqLen], file: path)
            try st.read("slots.puzzle_ids", into: trainer.slotPuzzleIds, shape: [b], file: path)
            var slotSteps = [Int32](repeating: 0, count: b), stop = [Int32](repeating: 0, count: b)
            try st.read("slots.steps", into: &slotSteps, shape: [b], file: path)
            try st.read("slots.halted", into: &stop, shape: [b], file: path)
            trainer.slotSteps = slotSteps.map { Int($0) }
            trainer.halted = stop.map { $0 != 0 }
        }
        return trainer
    }
}

