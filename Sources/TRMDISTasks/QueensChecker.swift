import TRMDIS
/// Whether a predicted N-Queens board completes a puzzle. Both verdicts are reported because a partial
/// board usually has several completions: `validCompletion` is the puzzle's real criterion, `exact`
/// (the stored solution) is probably the metric behind DIS's reported 0.69 (docs/model.md: DIS).
package struct QueensCheck: Equatable, Sendable {
    /// Exactly N queens, only empty/queen tokens, no two attacking (row, column, diagonal).
    package var valid: Bool
    /// Every given queen is still there.
    package var keepsGivens: Bool
    /// The prediction equals the stored solution.
    package var exact: Bool
    package var validCompletion: Bool { valid && keepsGivens }
}

package enum QueensChecker {
    package static func check(input: some Collection<UInt8>, prediction: some Collection<UInt8>,
                             label: [UInt8]? = nil, size n: Int) -> QueensCheck {
        let given = Array(input), pred = Array(prediction)
        guard given.count == n * n, pred.count == n * n else { return QueensCheck(valid: false, keepsGivens: false, exact: false) }
        var valid = pred.allSatisfy { $0 == QueensToken.empty || $0 == QueensToken.queen }
        var rows = Set<Int>(), cols = Set<Int>(), diags = Set<Int>(), antis = Set<Int>()
        var queens = 0
        for cell in 0..<n * n where pred[cell] == QueensToken.queen {
            let r = cell / n, c = cell % n
            queens += 1
            if !rows.insert(r).inserted || !cols.insert(c).inserted
                || !diags.insert(r - c).inserted || !antis.insert(r + c).inserted { valid = false }
        }
        if queens != n { valid = false }
        let keeps = (0..<n * n).allSatisfy { given[$0] != QueensToken.queen || pred[$0] == QueensToken.queen }
        let exact = label == pred
        return QueensCheck(valid: valid, keepsGivens: keeps, exact: exact)
    }
}
