/// TRM-ACT's continuous batching (docs/model.md: TRM-ACT): each slot keeps its example and carry across
/// optimiser steps until it halts. `halted` covers every slot of the global batch (every rank draws for
/// all of them); the rest covers this rank's slots.
final class TRMSlots {
    /// Whether each global slot halted after the last step (and draws a new example before the next).
    var halted: [Bool]
    /// Supervision steps each local slot's example has run.
    var steps: [Int]
    /// The last step's correctness (1 when every cell is right) and token score of each local slot.
    let correct: UnsafeMutablePointer<Float>
    let tokenScore: UnsafeMutablePointer<Double>

    init(globalBatch: Int, localBatch b: Int, arena: Arena) throws(TRMError) {
        correct = try arena.floats(b)
        tokenScore = try arena.doubles(b)
        halted = [Bool](repeating: true, count: globalBatch)
        steps = [Int](repeating: 0, count: b)
    }
}
