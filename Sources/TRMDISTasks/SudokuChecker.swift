import TRMDIS
/// Whether a predicted Sudoku grid solves a puzzle. Any valid grid that keeps the clues counts, not only
/// the stored solution: generated puzzles have a unique solution, but a checker that accepted only the
/// label would silently mis-score puzzles from elsewhere that have several.
package struct SudokuCheck: Equatable, Sendable {
    /// Every cell holds a digit token (no blank, no PAD).
    package var complete: Bool
    /// No digit repeats in any row, column or box (blank cells ignored).
    package var consistent: Bool
    /// Every clue of the puzzle is unchanged.
    package var keepsClues: Bool
    /// Complete, consistent and clue-preserving.
    package var solved: Bool { complete && consistent && keepsClues }
}

package enum SudokuChecker {
    /// Checks `prediction` (tokens: digit + 1) against `puzzle` (tokens, 1 = blank).
    package static func check(puzzle: some Collection<UInt8>, prediction: some Collection<UInt8>,
                             shape: SudokuShape) -> SudokuCheck {
        let n = shape.size
        let p = Array(puzzle), g = Array(prediction)
        guard p.count == shape.cellCount, g.count == shape.cellCount else {
            return SudokuCheck(complete: false, consistent: false, keepsClues: false)
        }
        var rows = [UInt32](repeating: 0, count: n), cols = rows, boxes = rows
        var complete = true, consistent = true, keepsClues = true
        for cell in 0..<shape.cellCount {
            if p[cell] >= 2 && g[cell] != p[cell] { keepsClues = false }
            let t = g[cell]
            guard t >= 2 && Int(t) <= n + 1 else { complete = false; continue }
            let bit = UInt32(1) << UInt32(t - 2)
            let (r, c, b) = (shape.rowOf[cell], shape.colOf[cell], shape.boxOf[cell])
            if (rows[r] | cols[c] | boxes[b]) & bit != 0 { consistent = false }
            rows[r] |= bit; cols[c] |= bit; boxes[b] |= bit
        }
        return SudokuCheck(complete: complete, consistent: consistent, keepsClues: keepsClues)
    }
}
