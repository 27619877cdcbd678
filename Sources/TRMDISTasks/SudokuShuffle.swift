import TRMDIS
/// One random validity-preserving relabelling of a Sudoku, the reference's `shuffle_sudoku`
/// (docs/formats.md: Datasets) generalised to boxRows × boxCols boxes:
///
/// - a permutation of the digits (blank, PAD and anything outside the digits stay put);
/// - with probability ½, a transpose first (square boxes only: transposing a 2×3-box grid would give
///   3×2 boxes, a different puzzle family);
/// - a row order that permutes the bands (groups of boxRows rows) and the rows inside each band, and a
///   column order built the same way from the stacks;
/// - new cell (r, c) takes the old cell (rowOrder[r], colOrder[c]) of the (possibly transposed) grid.
///
/// The identical transform must be applied to a puzzle and to its solution; `apply` does both.
package struct SudokuShuffle: Equatable, Sendable {
    package let shape: SudokuShape
    /// digitMap[d] is the new digit for digit d (1…N); digitMap[0] = 0.
    package var digitMap: [UInt8]
    package var transpose: Bool
    package var rowOrder: [Int]
    package var colOrder: [Int]

    /// A uniformly random shuffle (the draws are made in the reference's order).
    package init(shape: SudokuShape, rng: inout RNG) {
        self.shape = shape
        let n = shape.size
        var digits = Array(UInt8(1)...UInt8(n))
        digits.shuffle(using: &rng)
        digitMap = [0] + digits
        transpose = shape.boxRows == shape.boxCols && rng.uniform() < 0.5
        rowOrder = Self.blockOrder(blocks: n / shape.boxRows, width: shape.boxRows, rng: &rng)
        colOrder = Self.blockOrder(blocks: n / shape.boxCols, width: shape.boxCols, rng: &rng)
    }

    /// The identity shuffle.
    package init(identity shape: SudokuShape) {
        self.shape = shape
        digitMap = (0...shape.size).map { UInt8($0) }
        transpose = false
        rowOrder = Array(0..<shape.size)
        colOrder = Array(0..<shape.size)
    }

    /// A permutation of `blocks` blocks of `width` lines, and of the lines inside each block.
    private static func blockOrder(blocks: Int, width: Int, rng: inout RNG) -> [Int] {
        var blockPerm = Array(0..<blocks)
        blockPerm.shuffle(using: &rng)
        var order: [Int] = []
        for b in blockPerm {
            var inner = Array(0..<width)
            inner.shuffle(using: &rng)
            order += inner.map { b * width + $0 }
        }
        return order
    }

    /// Transforms one grid of tokens (digit + 1); tokens that are not digits (PAD 0, blank 1, an ignore
    /// label such as −100) are moved but not relabelled.
    package func apply<T: BinaryInteger>(_ grid: [T]) -> [T] {
        let n = shape.size
        precondition(grid.count == n * n, "grid has \(grid.count) cells, expected \(n * n)")
        var out = grid
        for r in 0..<n {
            for c in 0..<n {
                let (sr, sc) = (rowOrder[r], colOrder[c])
                let t = transpose ? grid[sc * n + sr] : grid[sr * n + sc]
                if t >= 2 && t <= T(n + 1) {
                    out[r * n + c] = T(digitMap[Int(t) - 1]) + 1
                } else {
                    out[r * n + c] = t
                }
            }
        }
        return out
    }

    /// Transforms one grid of byte tokens into `out`, without allocating (the build-time path).
    package func apply(_ grid: [UInt8], into out: UnsafeMutableBufferPointer<UInt8>) {
        let n = shape.size
        precondition(grid.count == n * n && out.count == n * n, "grid has \(grid.count) cells, expected \(n * n)")
        let top = UInt8(n + 1)
        grid.withUnsafeBufferPointer { src in
            digitMap.withUnsafeBufferPointer { map in
                for r in 0..<n {
                    let sr = rowOrder[r]
                    for c in 0..<n {
                        let sc = colOrder[c]
                        let t = transpose ? src[sc * n + sr] : src[sr * n + sc]
                        out[r * n + c] = t >= 2 && t <= top ? map[Int(t) - 1] + 1 : t
                    }
                }
            }
        }
    }

    /// Transforms a puzzle and its solution identically.
    package func apply<T: BinaryInteger>(input: inout [T], label: inout [T]) {
        input = apply(input)
        label = apply(label)
    }
}
