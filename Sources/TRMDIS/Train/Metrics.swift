/// What one training step reports (docs/model.md: TRM-ACT, DIS).
public struct TrainMetrics: Codable, Sendable, Equatable {
    /// Optimiser steps taken so far (drives the schedule).
    public var step = 0
    public var learningRate: Float = 0
    /// Mean per-example token-mean cross-entropy over the supervision steps of this call.
    public var loss = 0.0
    /// Of the examples that finished (DIS: the whole batch after N_sup steps; TRM: the halted slots),
    /// the mean fraction of correct non-ignored tokens and the fraction fully correct.
    public var tokenAccuracy = 0.0
    public var exactAccuracy = 0.0
    /// TRM: fraction of finished examples whose halting decision (q_halt ≥ 0) matched correctness.
    public var haltAccuracy: Double? = nil
    /// TRM: mean supervision steps of the finished examples.
    public var meanSteps: Double? = nil
    public var finished = 0
    /// Network applications per finished example.
    public var netCallsPerExample = 0.0
    public var examplesPerSecond = 0.0
    public var seconds = 0.0

    /// `step` is stored as "optimizerSteps": it counts optimiser updates, not trainer steps.
    enum CodingKeys: String, CodingKey {
        case step = "optimizerSteps", learningRate, loss, tokenAccuracy, exactAccuracy, haltAccuracy, meanSteps,
             finished, netCallsPerExample, examplesPerSecond, seconds
    }
}

/// The metric sums of one training step, before the division by the global counts (Trainer+Reduce.swift
/// sums them over data-parallel ranks first).
struct StepSums {
    var loss = 0.0
    /// DIS: batch × supervision steps; TRM: the global batch.
    var lossDivisor = 0.0
    var token = 0.0
    var exact = 0.0
    var finished = 0.0
    var haltCorrect = 0.0
    var steps = 0.0
    var netCallsPerExample = 0.0

    /// The means a step reports.
    func metrics(method: TrainingConfig.Method, netCallsPerStep: Int) -> TrainMetrics {
        var metrics = TrainMetrics()
        metrics.loss = loss / max(1, lossDivisor)
        metrics.finished = Int(finished)
        metrics.netCallsPerExample = netCallsPerExample
        if finished > 0 {
            metrics.tokenAccuracy = token / finished
            metrics.exactAccuracy = exact / finished
            if method == .trm {
                metrics.haltAccuracy = haltCorrect / finished
                metrics.meanSteps = steps / finished
                metrics.netCallsPerExample = metrics.meanSteps! * Double(netCallsPerStep)
            }
        }
        return metrics
    }
}

/// Argmax over the vocabulary for every cell, and accuracy against labels (ignoring -100).
enum Predictions {
    static func argmax(_ logits: UnsafePointer<Float>, cells: Int, vocab: Int, into out: UnsafeMutablePointer<Int32>) {
        for c in 0..<cells {
            let row = logits + c * vocab
            var best = 0
            for v in 1..<vocab where row[v] > row[best] { best = v }
            out[c] = Int32(best)
        }
    }

    /// (fraction of correct non-ignored cells, all correct) for one example.
    static func score(_ predicted: UnsafePointer<Int32>, _ labels: UnsafePointer<Int32>, _ n: Int) -> (Double, Bool) {
        var counted = 0, correct = 0
        for t in 0..<n where labels[t] != Losses.ignoreLabel {
            counted += 1
            if predicted[t] == labels[t] { correct += 1 }
        }
        return (counted == 0 ? 1 : Double(correct) / Double(counted), correct == counted)
    }
}
