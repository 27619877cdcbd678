/// The token mixer inside each block.
public enum Mixer: String, Codable, Sendable, CaseIterable {
    /// Fused-qkv non-causal self-attention.
    case attention
    /// The `mlp_t` token-mixing SwiGLU over the sequence axis (MLP-Mixer style).
    case mlpT = "mlp_t"
}

/// How positions enter the model.
public enum PositionEncoding: String, Codable, Sendable, CaseIterable {
    case rope, learned, none
}

/// Everything that fixes a TRM/DIS network's shapes and its recursion (docs/model.md: The network, DIS).
public struct ModelConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    /// Grid tokens per example (81 for 9x9 Sudoku, 900 for 30x30).
    public var seqLen: Int
    /// Prefix positions holding the puzzle embedding (16 in the reference; 0 for none).
    public var puzzleEmbLen: Int
    /// Width of one puzzle-embedding row; right-padded with zeros to puzzleEmbLen·hiddenSize.
    public var puzzleEmbDim: Int
    /// Rows of the puzzle-embedding table (one per puzzle identifier, 0 = blank).
    public var numPuzzleIdentifiers: Int
    public var hiddenSize: Int
    public var numHeads: Int
    public var expansion: Double
    public var numLayers: Int
    public var mixer: Mixer
    public var posEncoding: PositionEncoding
    public var ropeTheta: Double
    public var rmsNormEps: Float
    /// T: recursion processes per supervision step (T-1 without gradient).
    public var hCycles: Int
    /// n: latent updates per recursion process.
    public var lCycles: Int
    /// N_sup: supervision steps.
    public var supervisionSteps: Int
    /// DIS: a learned embedding of the 1-based supervision step added to every input position.
    public var timeEmbedding: Bool

    public init(
        vocabSize: Int, seqLen: Int, puzzleEmbLen: Int = 16, puzzleEmbDim: Int? = nil,
        numPuzzleIdentifiers: Int = 1, hiddenSize: Int = 512, numHeads: Int = 8, expansion: Double = 4,
        numLayers: Int = 2, mixer: Mixer = .attention, posEncoding: PositionEncoding = .rope,
        ropeTheta: Double = 10_000, rmsNormEps: Float = 1e-5, hCycles: Int = 3, lCycles: Int = 6,
        supervisionSteps: Int = 16, timeEmbedding: Bool = false
    ) {
        self.vocabSize = vocabSize
        self.seqLen = seqLen
        self.puzzleEmbLen = puzzleEmbLen
        self.puzzleEmbDim = puzzleEmbDim ?? (puzzleEmbLen > 0 ? hiddenSize : 0)
        self.numPuzzleIdentifiers = numPuzzleIdentifiers
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.expansion = expansion
        self.numLayers = numLayers
        self.mixer = mixer
        self.posEncoding = posEncoding
        self.ropeTheta = ropeTheta
        self.rmsNormEps = rmsNormEps
        self.hCycles = hCycles
        self.lCycles = lCycles
        self.supervisionSteps = supervisionSteps
        self.timeEmbedding = timeEmbedding
    }

    /// Sequence length inside the model: puzzle prefix + grid.
    public var totalLen: Int { puzzleEmbLen + seqLen }
    public var headDim: Int { hiddenSize / numHeads }
    /// SwiGLU inner width over the hidden axis.
    public var mlpInner: Int { Self.swigluInner(expansion: expansion, width: hiddenSize) }
    /// SwiGLU inner width of the `mlp_t` token mixer (over the sequence axis).
    public var tokenMixerInner: Int { Self.swigluInner(expansion: expansion, width: totalLen) }
    /// Rows of the DIS step-time table: indices 0..N_sup+1, as in the official code.
    public var timeEmbeddingRows: Int { timeEmbedding ? supervisionSteps + 2 : 0 }
    /// Network applications in one supervision step: T·(n+1).
    public var netCallsPerStep: Int { hCycles * (lCycles + 1) }

    /// round(expansion·width·2/3) (Python rounding: half to even), then up to a multiple of 256.
    public static func swigluInner(expansion: Double, width: Int) -> Int {
        let raw = Int((expansion * Double(width) * 2 / 3).rounded(.toNearestOrEven))
        return (raw + 255) / 256 * 256
    }

    /// The configuration as trained by `method`: the DIS step-time embedding on for DIS and off for TRM-ACT,
    /// which never indexes past its first row (docs/model.md). Every front door applies this unless the
    /// user sets the time embedding explicitly.
    public func forMethod(_ method: TrainingConfig.Method) -> ModelConfig {
        var c = self
        c.timeEmbedding = method == .dis
        return c
    }

    /// Checks that the shapes make sense; every constructor of a model calls this.
    public func validate() throws(TRMError) {
        func require(_ ok: Bool, _ message: String) throws(TRMError) {
            if !ok { throw TRMError.invalidArgument(message) }
        }
        try require(vocabSize >= 2 && vocabSize <= 1 << 20, "vocabSize must be in 2...1048576 (got \(vocabSize))")
        try require(seqLen >= 1 && seqLen <= 1 << 16, "seqLen must be in 1...65536 (got \(seqLen))")
        try require(hiddenSize >= 2 && hiddenSize <= 16_384, "hiddenSize must be in 2...16384 (got \(hiddenSize))")
        try require(puzzleEmbLen >= 0 && puzzleEmbLen <= 1024, "puzzleEmbLen must be in 0...1024 (got \(puzzleEmbLen))")
        try require(puzzleEmbDim >= 0 && puzzleEmbDim <= puzzleEmbLen * hiddenSize,
                    "puzzleEmbDim must be in 0...puzzleEmbLen·hiddenSize (got \(puzzleEmbDim))")
        try require(puzzleEmbLen == 0 || numPuzzleIdentifiers >= 1,
                    "numPuzzleIdentifiers must be at least 1 with a puzzle prefix")
        try require(numPuzzleIdentifiers >= 0 && numPuzzleIdentifiers <= 1 << 26, "numPuzzleIdentifiers out of range")
        try require(numHeads >= 1 && hiddenSize % numHeads == 0, "hiddenSize must be a multiple of numHeads")
        try require(posEncoding != .rope || headDim % 2 == 0, "RoPE needs an even head dimension")
        try require(expansion > 0 && expansion <= 64, "expansion must be in (0, 64]")
        try require(numLayers >= 1 && numLayers <= 64, "numLayers must be in 1...64")
        try require(hCycles >= 1 && hCycles <= 64, "hCycles (T) must be in 1...64")
        try require(lCycles >= 1 && lCycles <= 64, "lCycles (n) must be in 1...64")
        try require(supervisionSteps >= 1 && supervisionSteps <= 1024, "supervisionSteps must be in 1...1024")
        try require(rmsNormEps > 0 && rmsNormEps.isFinite, "rmsNormEps must be positive")
        try require(ropeTheta > 1, "ropeTheta must exceed 1")
    }
}

/// Errors the engine reports; the C boundary maps each case to a status code.
public enum TRMError: Error, Equatable, CustomStringConvertible {
    case invalidArgument(String)
    case io(String)
    case format(String)
    /// A callback or a stop request ended the operation early; the objects stay usable.
    case aborted(String)
    /// The buffers would not fit in the memory this process may still use (MemoryBudget).
    case outOfMemory(String)
    /// A forward pass produced NaN or infinity: diverged training or corrupt weights.
    case numerical(String)

    public var description: String {
        switch self {
        case .invalidArgument(let m): return "invalid argument: \(m)"
        case .io(let m): return "I/O error: \(m)"
        case .format(let m): return "bad format: \(m)"
        case .aborted(let m): return "aborted: \(m)"
        case .outOfMemory(let m): return "out of memory: \(m)"
        case .numerical(let m): return "non-finite result: \(m)"
        }
    }
}
