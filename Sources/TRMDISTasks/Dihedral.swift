import TRMDIS
/// The 8 symmetries of a rectangle grid, numbered as the reference's `dihedral_transform`
/// (docs/data.md: ARC-AGI, `dataset/common.py`), so that transform ids stored or logged by either code base mean
/// the same thing. Maze and N-Queens augmentations use them; ARC will too.
///
/// For an H×W grid A the output B (H×W, or W×H for ids 1, 3, 6, 7) is:
///
///     0 identity                  B[i][j] = A[i][j]
///     1 rot90 counter-clockwise   B[i][j] = A[j][W−1−i]
///     2 rot180                    B[i][j] = A[H−1−i][W−1−j]
///     3 rot270 (rot90 clockwise)  B[i][j] = A[H−1−j][i]
///     4 left-right flip           B[i][j] = A[i][W−1−j]
///     5 up-down flip              B[i][j] = A[H−1−i][j]
///     6 transpose                 B[i][j] = A[j][i]
///     7 anti-transpose            B[i][j] = A[H−1−j][W−1−i]
package enum Dihedral {
    package static let count = 8

    /// inverse[tid] undoes tid (`DIHEDRAL_INVERSE` in the reference): rotations by 90° and 270° invert
    /// each other, every other transform is its own inverse.
    package static let inverse = [0, 3, 2, 1, 4, 5, 6, 7]

    /// Whether transform `tid` swaps the grid's height and width.
    package static func swapsAxes(_ tid: Int) -> Bool { tid == 1 || tid == 3 || tid == 6 || tid == 7 }

    /// The output shape of transform `tid` applied to an rows × cols grid.
    package static func outputShape(_ tid: Int, rows: Int, cols: Int) -> (rows: Int, cols: Int) {
        swapsAxes(tid) ? (cols, rows) : (rows, cols)
    }

    /// The source index in A (H×W, row-major) of output cell (i, j).
    @inline(__always)
    package static func sourceIndex(_ tid: Int, i: Int, j: Int, rows h: Int, cols w: Int) -> Int {
        switch tid {
        case 0: return i * w + j
        case 1: return j * w + (w - 1 - i)
        case 2: return (h - 1 - i) * w + (w - 1 - j)
        case 3: return (h - 1 - j) * w + i
        case 4: return i * w + (w - 1 - j)
        case 5: return (h - 1 - i) * w + j
        case 6: return j * w + i
        case 7: return (h - 1 - j) * w + (w - 1 - i)
        default: preconditionFailure("dihedral transform id must be in [0, 8) (got \(tid))")
        }
    }

    /// Applies transform `tid` to a row-major rows × cols grid; the result has `outputShape`'s shape.
    package static func apply<C: RandomAccessCollection>(_ tid: Int, to grid: C, rows: Int, cols: Int) -> [C.Element]
    where C.Index == Int {
        precondition(grid.count == rows * cols, "grid has \(grid.count) cells, expected \(rows)×\(cols)")
        let (outRows, outCols) = outputShape(tid, rows: rows, cols: cols)
        let base = grid.startIndex
        var out: [C.Element] = []
        out.reserveCapacity(grid.count)
        for i in 0..<outRows {
            for j in 0..<outCols { out.append(grid[base + sourceIndex(tid, i: i, j: j, rows: rows, cols: cols)]) }
        }
        return out
    }

    /// Undoes transform `tid`: `rows` × `cols` is the shape of the transformed grid.
    package static func invert<C: RandomAccessCollection>(_ tid: Int, _ grid: C, rows: Int, cols: Int) -> [C.Element]
    where C.Index == Int {
        apply(inverse[tid], to: grid, rows: rows, cols: cols)
    }
}
