import CTRMDIS
import TRMDIS

private let maxSeqLen: Int32 = 1 << 20

@c @implementation
public func trm_dataset_create(_ seqLen: Int32, _ inputs: UnsafePointer<Int32>?, _ labels: UnsafePointer<Int32>?,
                               _ nCells: Int, _ puzzleIds: UnsafePointer<Int32>?, _ nExamples: Int,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32
{
    guarded("trm_dataset_create") { () throws(Failure) in
        guard let out else { throw .invalid("out is NULL") }
        guard seqLen >= 1 && seqLen <= maxSeqLen else {
            throw .invalid("seq_len must be in 1...\(maxSeqLen) (got \(seqLen))")
        }
        guard nExamples >= 1 else { throw .invalid("n_examples must be at least 1 (got \(nExamples))") }
        let (cells, overflow) = nExamples.multipliedReportingOverflow(by: Int(seqLen))
        guard !overflow, nCells == cells else {
            throw .invalid("n_cells is \(UInt(bitPattern: nCells)), expected n_examples * seq_len = "
                + (overflow ? "more than \(Int.max)" : "\(cells)"))
        }
        guard let inputs else { throw .invalid("inputs is NULL") }
        guard let labels else { throw .invalid("labels is NULL") }
        if let i = (0..<nCells).first(where: { inputs[$0] < 0 }) {
            throw .invalid("input token \(inputs[i]) at cell \(i) (example \(i / Int(seqLen))) is negative")
        }
        if let i = (0..<nCells).first(where: { labels[$0] < 0 && labels[$0] != Losses.ignoreLabel }) {
            throw .invalid("label \(labels[i]) at cell \(i) (example \(i / Int(seqLen))) is negative and not "
                + "the ignore label \(Losses.ignoreLabel)")
        }
        if let puzzleIds, let e = (0..<nExamples).first(where: { puzzleIds[$0] < 0 }) {
            throw .invalid("puzzle id \(puzzleIds[e]) of example \(e) is negative")
        }
        let examples = ExampleSet(
            seqLen: Int(seqLen), inputs: Array(UnsafeBufferPointer(start: inputs, count: nCells)),
            labels: Array(UnsafeBufferPointer(start: labels, count: nCells)),
            puzzleIds: puzzleIds.map { Array(UnsafeBufferPointer(start: $0, count: nExamples)) })
        out.pointee = Handles.open(DatasetHandle(examples))
    }
}

@c @implementation
public func trm_dataset_load(_ directory: UnsafePointer<CChar>?, _ split: UnsafePointer<CChar>?,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32
{
    guarded("trm_dataset_load") { () throws(Failure) in
        guard let directory else { throw .invalid("directory is NULL") }
        let dir = String(cString: directory)
        guard !dir.isEmpty else { throw .invalid("directory is empty") }
        try loadDataset([dir], split, out)
    }
}

@c @implementation
public func trm_dataset_load_paths(_ directories: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int,
                                   _ split: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32
{
    guarded("trm_dataset_load_paths") { () throws(Failure) in
        guard let directories else { throw .invalid("directories is NULL") }
        guard (1...4096).contains(count) else { throw .invalid("count must be in 1...4096 (got \(count))") }
        var dirs: [String] = []
        for i in 0..<count {
            guard let d = directories[i] else { throw .invalid("directories[\(i)] is NULL") }
            let text = String(cString: d)
            guard !text.isEmpty else { throw .invalid("directories[\(i)] is empty") }
            dirs.append(text)
        }
        try loadDataset(dirs, split, out)
    }
}

/// One split of `dirs`, merged, as a dataset handle in `out`.
private func loadDataset(_ dirs: [String], _ split: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?)
    throws(Failure) {
    guard let split else { throw .invalid("split is NULL") }
    guard let out else { throw .invalid("out is NULL") }
    let name = String(cString: split)
    guard !name.isEmpty, !name.contains("/"), name != "..", name != "." else {
        throw .invalid("split must name a subdirectory such as \"train\" or \"test\" (got \"\(name.prefix(64))\")")
    }
    let loaded = try engine { () throws(TRMError) in try PuzzleSplit.load(directories: dirs, split: name) }
    guard loaded.exampleCount >= 1 else { throw Failure(TRM_ERR_FORMAT, "\(dirs.joined(separator: ", "))/\(name) holds no examples") }
    out.pointee = Handles.open(DatasetHandle(loaded.exampleSet()))
}

@c @implementation
public func trm_dataset_free(_ dataset: OpaquePointer?) {
    guard let dataset else { return }
    if !Handles.close(dataset, as: DatasetHandle.self) {
        log(TRM_LOG_WARN, "trm_dataset_free: ignored a pointer that is not a live dataset")
    }
}

@c @implementation
public func trm_dataset_size(_ dataset: OpaquePointer?, _ examples: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("trm_dataset_size") { () throws(Failure) in
        let d = try Handles.dataset(dataset)
        guard let examples else { throw .invalid("examples is NULL") }
        examples.pointee = Int64(d.examples.count)
    }
}

@c @implementation
public func trm_dataset_seq_len(_ dataset: OpaquePointer?, _ seqLen: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("trm_dataset_seq_len") { () throws(Failure) in
        let d = try Handles.dataset(dataset)
        guard let seqLen else { throw .invalid("seq_len is NULL") }
        seqLen.pointee = Int32(clamping: d.examples.seqLen)
    }
}

/// Checks that `examples` fit `model`, with the engine's message prefixed by the dataset's argument name.
func checkFits(_ examples: ExampleSet, _ model: ModelConfig, _ name: String) throws(Failure) {
    do throws(TRMError) {
        try examples.validate(for: model)
    } catch {
        guard case .invalidArgument(let message) = error else { throw Failure(error) }
        throw .invalid("\(name) does not fit the model: \(message)")
    }
}
