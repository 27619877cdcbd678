/// The reference's configurations by name (docs/model.md: TRM-ACT, DIS).
public enum Preset: String, CaseIterable, Sendable {
    case sudokuMLP = "sudoku-mlp"
    case sudokuAtt = "sudoku-att"
    case mazeAtt = "maze-att"
    case arcAtt = "arc-att"
    case disCompact = "dis-compact"
    case disMedium = "dis-medium"
    case nqueens

    /// The puzzle-identifier table is sized by the dataset; presets hold the blank row only.
    public var config: ModelConfig {
        switch self {
        case .sudokuMLP:
            return ModelConfig(vocabSize: 11, seqLen: 81, mixer: .mlpT, posEncoding: .none, hCycles: 3, lCycles: 6)
        case .sudokuAtt:
            return ModelConfig(vocabSize: 11, seqLen: 81, hCycles: 3, lCycles: 6)
        case .mazeAtt:
            return ModelConfig(vocabSize: 6, seqLen: 900, hCycles: 3, lCycles: 4)
        case .arcAtt:
            return ModelConfig(vocabSize: 12, seqLen: 900, hCycles: 3, lCycles: 4)
        case .disCompact:
            return ModelConfig(vocabSize: 12, seqLen: 900, hiddenSize: 256, numHeads: 8, numLayers: 1,
                               hCycles: 1, lCycles: 2, supervisionSteps: 6, timeEmbedding: true)
        case .disMedium:
            return ModelConfig(vocabSize: 12, seqLen: 900, hiddenSize: 512, numHeads: 8, numLayers: 2,
                               hCycles: 1, lCycles: 2, supervisionSteps: 6, timeEmbedding: true)
        case .nqueens:
            // The paper's 0.8M-parameter DIS model on the 8x8 board (docs/model.md: DIS): D 256, one layer.
            return ModelConfig(vocabSize: 3, seqLen: 64, puzzleEmbLen: 0, numPuzzleIdentifiers: 0,
                               hiddenSize: 256, numHeads: 8, numLayers: 1,
                               hCycles: 1, lCycles: 2, supervisionSteps: 8, timeEmbedding: true)
        }
    }

    public static func named(_ name: String) -> Preset? { Preset(rawValue: name) }
}
