import TRMDIS
import TRMDISTasks
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Appends one JSON object per training step (metrics, and the evaluation when there is one), keys in
/// snake_case: `trainer_step` counts trainer steps (DIS mini-batches, TRM-ACT supervision steps of the batch),
/// `metrics.optimizer_steps` optimiser updates.
final class JSONLines {
    private let file: UnsafeMutablePointer<FILE>

    init(path: String) throws {
        guard let f = fopen(path, "a") else { throw TRMError.io("cannot open \(path) for appending") }
        file = f
    }

    deinit { fclose(file) }

    private struct Record: Encodable {
        var trainerStep: Int
        var elapsed: Double
        var metrics: TrainMetrics
        var evaluation: EvalReport?
    }

    func write(_ p: TrainingLoop.Progress) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(Record(trainerStep: p.step, elapsed: p.elapsed, metrics: p.metrics,
                                                    evaluation: p.evaluation)) else { return }
        var line = Array(data)
        line.append(0x0A)
        _ = line.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fflush(file)
    }
}
