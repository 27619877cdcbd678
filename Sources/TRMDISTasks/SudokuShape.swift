import TRMDIS
/// The geometry of an N×N Sudoku with boxRows × boxCols boxes (N = boxRows·boxCols): 2×2 → 4×4,
/// 2×3 → 6×6, 3×3 → 9×9. Precomputes each cell's row, column and box so the solver's inner loop is
/// table look-ups.
///
/// Token encoding follows the reference (docs/formats.md: Datasets): token = digit + 1, so 0 = PAD, 1 = blank and
/// 2…N+1 are the digits 1…N; the vocabulary has N + 2 tokens (11 for 9×9).
package struct SudokuShape: Hashable, Sendable, CustomStringConvertible {
    package let boxRows: Int
    package let boxCols: Int
    let rowOf: [Int]
    let colOf: [Int]
    let boxOf: [Int]

    package init(boxRows: Int, boxCols: Int) throws(TRMError) {
        guard boxRows >= 1, boxCols >= 1, boxRows * boxCols >= 2, boxRows * boxCols <= 16 else {
            throw .invalidArgument("Sudoku boxes must be at least 1×1 with 2...16 cells (got \(boxRows)×\(boxCols))")
        }
        self.boxRows = boxRows
        self.boxCols = boxCols
        let n = boxRows * boxCols
        rowOf = (0..<n * n).map { $0 / n }
        colOf = (0..<n * n).map { $0 % n }
        // Boxes are numbered band-major: band = row / boxRows, stack = col / boxCols, and a band holds
        // n / boxCols = boxRows boxes.
        boxOf = (0..<n * n).map { ($0 / n / boxRows) * boxRows + ($0 % n) / boxCols }
    }

    /// The usual shape for a grid side: 4 → 2×2, 6 → 2×3, 9 → 3×3; otherwise the most square boxes
    /// (box rows = the largest divisor of `size` not above its square root).
    package init(size: Int) throws(TRMError) {
        guard size >= 2 && size <= 16 else { throw .invalidArgument("Sudoku side must be in 2...16 (got \(size))") }
        var r = 1
        var d = 1
        while d * d <= size { if size % d == 0 { r = d }; d += 1 }
        // A prime side has only 1 x N boxes, which make rows and boxes the same constraint: not a Sudoku.
        guard r > 1 else {
            throw .invalidArgument("a Sudoku of side \(size) would have 1x\(size) boxes; choose a side with a factor"
                + " (4, 6, 8, 9, ...) or give --box")
        }
        try self.init(boxRows: r, boxCols: size / r)
    }

    package static func == (a: SudokuShape, b: SudokuShape) -> Bool { a.boxRows == b.boxRows && a.boxCols == b.boxCols }
    package func hash(into h: inout Hasher) { h.combine(boxRows); h.combine(boxCols) }

    /// The side N.
    package var size: Int { boxRows * boxCols }
    package var cellCount: Int { size * size }
    /// N + 2: PAD, blank and N digits.
    package var vocabSize: Int { size + 2 }
    /// All digits as a bit mask (bit d−1 for digit d).
    var allDigits: UInt32 { UInt32((1 << size) - 1) }

    package var description: String { "\(size)x\(size) (boxes \(boxRows)x\(boxCols))" }

    /// Token for a digit (0 = blank).
    @inline(__always) package static func token(digit: UInt8) -> UInt8 { digit + 1 }
    /// Digit for a token (blank → 0); PAD and anything outside the vocabulary give nil.
    @inline(__always) package func digit(token: UInt8) -> UInt8? {
        token >= 1 && Int(token) <= size + 1 ? token - 1 : nil
    }
}

extension SudokuShape {
    /// The 3N units (rows, then columns, then boxes), each as its N cells; unit numbers match
    /// `unitsOf`: row r is unit r, column c is unit N + c, box b is unit 2N + b.
    var unitCells: [Int] {
        let n = size
        var out = [Int](repeating: 0, count: 3 * n * n)
        var fill = [Int](repeating: 0, count: 3 * n)
        for cell in 0..<cellCount {
            for u in [rowOf[cell], n + colOf[cell], 2 * n + boxOf[cell]] {
                out[u * n + fill[u]] = cell
                fill[u] += 1
            }
        }
        return out
    }
}
