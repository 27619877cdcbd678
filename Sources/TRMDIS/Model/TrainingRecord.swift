import FoundationEssentials

/// How a model was trained, as far as inference must know it to run the same recursion (docs/model.md,
/// "The inference protocol"). A trainer stamps it on its model; model files carry it as the
/// `trmdis_training` metadata, so the protocol travels with the weights.
///
/// - DIS feeds each supervision step's argmax back as the next step's input (unless trained without
///   feedback) and indexes the step-time table with the step s, clamped to N_sup past the last trained
///   step, as the official DIS code does.
/// - TRM-ACT keeps the puzzle as the input at every step and, if its model has a step-time table at all,
///   only ever trains row 1 of it.
public struct TrainingRecord: Codable, Sendable, Equatable {
    /// Which rows of the step-time table a step uses.
    public enum TimeRows: String, Codable, Sendable, CaseIterable {
        /// Step s uses row min(s, N_sup): DIS.
        case perStep = "per-step"
        /// Every step uses row 1: TRM-ACT trained on a model that has a table.
        case first
    }

    public var method: TrainingConfig.Method
    /// Each step's prediction was the next step's input.
    public var feedbackPredictions: Bool
    /// How the step-time table was indexed (meaningless without one).
    public var timeRows: TimeRows
    /// N_sup in training: the default number of inference steps.
    public var supervisionSteps: Int

    public init(method: TrainingConfig.Method, feedbackPredictions: Bool, timeRows: TimeRows, supervisionSteps: Int) {
        self.method = method
        self.feedbackPredictions = feedbackPredictions
        self.timeRows = timeRows
        self.supervisionSteps = supervisionSteps
    }

    /// The record of training `model` with `training`.
    public init(training: TrainingConfig, model: ModelConfig) {
        let dis = training.method == .dis
        self.init(method: training.method, feedbackPredictions: dis && training.feedbackPredictions,
                  timeRows: dis ? .perStep : .first, supervisionSteps: model.supervisionSteps)
    }

    /// The rule for a model without a record (files written before the record existed, untrained
    /// models): a model with a step-time table is taken as DIS with feedback, one without as TRM-ACT.
    /// It was the only rule before, so such files are read as they always were, except that steps past
    /// N_sup now reuse row N_sup.
    public static func inferred(from c: ModelConfig) -> TrainingRecord {
        c.timeEmbedding
            ? TrainingRecord(method: .dis, feedbackPredictions: true, timeRows: .perStep, supervisionSteps: c.supervisionSteps)
            : TrainingRecord(method: .trm, feedbackPredictions: false, timeRows: .first, supervisionSteps: c.supervisionSteps)
    }

    /// The time-table row of 1-based supervision step `step`.
    public func timeRow(step: Int) -> Int {
        switch timeRows {
        case .perStep: return min(step, supervisionSteps)
        case .first: return 1
        }
    }

    public static let metadataKey = "trmdis_training"

    public var jsonString: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public init(json: String, file: String, model c: ModelConfig) throws(TRMError) {
        do {
            self = try JSONDecoder().decode(TrainingRecord.self, from: Data(json.utf8))
        } catch {
            throw .format("\(file): bad '\(Self.metadataKey)' metadata (\(error))")
        }
        guard supervisionSteps == c.supervisionSteps else {
            throw .format("\(file): the training record's N_sup \(supervisionSteps) is not the model's \(c.supervisionSteps)")
        }
    }
}
