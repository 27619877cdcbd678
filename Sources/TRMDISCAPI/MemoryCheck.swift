#if canImport(Glibc)
import Glibc
#endif
import CTRMDIS
import TRMDIS

/// The engine allocates every buffer up front and stops the process if an allocation fails. These
/// estimates of its largest buffers (in floats, saturating instead of overflowing) let the boundary
/// refuse shapes that cannot fit in this machine's memory with TRM_ERR_OOM before the engine tries.
/// They follow Model and Runner's allocations roughly; they only need to catch what cannot fit.
enum MemoryCheck {
    static func model(_ c: ModelConfig) throws(Failure) {
        let floats = sum([
            ParameterLayout(c).total,
            product([c.numPuzzleIdentifiers, c.puzzleEmbDim]),
            product([2, c.hiddenSize]),
            product([c.totalLen, c.headDim]),
        ])
        try check(floats, "a model of this config")
    }

    static func runner(_ c: ModelConfig, batch b: Int) throws(Failure) {
        try check(runnerFloats(c, batch: b), "a runner of batch size \(b)")
    }

    private static func runnerFloats(_ c: ModelConfig, batch b: Int) -> Int {
        let rows = product([b, c.totalLen]), d = c.hiddenSize, n = product([rows, d])
        let attention = c.mixer == .attention
        let tokenInner = attention ? 0 : product([b, d, c.tokenMixerInner])
        let perSaved = sum([
            product([3, n]), product([2, rows, c.mlpInner]),
            attention ? sum([product([4, n]), product([b, c.numHeads, c.totalLen, c.totalLen])]) : 0,
            attention ? 0 : sum([product([2, tokenInner]), n]),
        ])
        let saved = product([c.lCycles + 1, c.numLayers])  // the gradient-bearing cycle, plus one reused
        return sum([
            product([saved + 1, perSaved]),
            product([c.lCycles + 7, n]),                      // carry, x, gradients of x, call inputs
            product([2, b, c.seqLen, c.vocabSize]),           // logits and their gradient
            ParameterLayout(c).total,                          // weight gradients
            product([8, n]),                                   // block scratch
            product([3, max(product([rows, c.mlpInner]), tokenInner)]),
            attention ? product([Threads.count, c.totalLen, c.totalLen]) : 0,
        ])
    }

    /// A runner plus the predictor's unguided logits.
    static func predictor(_ c: ModelConfig, batch b: Int) throws(Failure) {
        try check(sum([runnerFloats(c, batch: b), product([b, c.seqLen, c.vocabSize])]),
                  "inference with batch size \(b)")
    }

    /// A runner plus the trainer's optimiser moments, EMA copy, weight backup and per-slot buffers.
    static func trainer(_ c: ModelConfig, batch b: Int) throws(Failure) {
        try check(sum([runnerFloats(c, batch: b), product([4, ParameterLayout(c).total]), product([8, b, c.seqLen])]),
                  "a trainer of batch size \(b)")
    }

    private static func check(_ floats: Int, _ what: String) throws(Failure) {
        let bytes = product([floats, MemoryLayout<Float>.stride])
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0 && pageSize > 0 else { return }  // unknown: let the engine try
        let physical = product([pages, pageSize])
        guard bytes < physical else {
            throw Failure(TRM_ERR_OOM, "\(what) needs about \(gib(bytes)) GiB, more than this machine's "
                + "\(gib(physical)) GiB of memory")
        }
    }

    private static func gib(_ bytes: Int) -> String {
        bytes == .max ? "more than 8e9" : String(Double(bytes) / Double(1 << 30))
    }

    /// Products and sums that saturate at Int.max (never trap on overflow); inputs are non-negative.
    private static func product(_ xs: [Int]) -> Int {
        var result = 1
        for x in xs {
            let (p, overflow) = result.multipliedReportingOverflow(by: max(0, x))
            if overflow { return .max }
            result = p
        }
        return result
    }

    private static func sum(_ xs: [Int]) -> Int {
        var result = 0
        for x in xs {
            let (s, overflow) = result.addingReportingOverflow(max(0, x))
            if overflow { return .max }
            result = s
        }
        return result
    }
}
