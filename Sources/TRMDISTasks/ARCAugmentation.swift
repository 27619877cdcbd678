import TRMDIS
/// One augmentation of an ARC task (docs/data.md: ARC-AGI): a colour permutation that keeps colour 0 (black),
/// then one of the 8 dihedral transforms (the two commute). Translation is not part of it: it is a
/// placement chosen per example when the train split is encoded (see `ARCEncoding`).
///
/// A version's puzzle name is `task|||t{tid}|||{colour map}` (the colour map as 10 digits, new colour of
/// old colours 0...9), and the original task keeps its bare id. `parse(name:)` reads the augmentation
/// back from a name, so identifiers.json alone says how to undo each version's predictions.
package struct ARCAugmentation: Hashable, Sendable, CustomStringConvertible {
    package static let separator = "|||"

    /// Dihedral transform id 0...7 (`Dihedral`).
    package let dihedral: Int
    /// colourMap[c] is the new colour of colour c; colourMap[0] == 0, a permutation of 0...9.
    package let colourMap: [UInt8]

    package static let identity = ARCAugmentation(checkedDihedral: 0, colourMap: Array(0..<10))

    package init(dihedral: Int, colourMap: [UInt8]) throws(TRMError) {
        guard dihedral >= 0 && dihedral < Dihedral.count else {
            throw .invalidArgument("dihedral transform id must be in 0...7 (got \(dihedral))")
        }
        guard colourMap.count == ARCGrid.colourCount, Set(colourMap) == Set(0..<10), colourMap[0] == 0 else {
            throw .invalidArgument("an ARC colour map must be a permutation of 0...9 that keeps 0 (got \(colourMap))")
        }
        self.init(checkedDihedral: dihedral, colourMap: colourMap)
    }

    private init(checkedDihedral: Int, colourMap: [UInt8]) {
        self.dihedral = checkedDihedral
        self.colourMap = colourMap
    }

    /// The reference's draw: a uniform dihedral id (identity included) and a uniform permutation of
    /// colours 1...9.
    package static func random(rng: inout RNG) -> ARCAugmentation {
        let tid = rng.below(Dihedral.count)
        var colours: [UInt8] = Array(1...9)
        colours.shuffle(using: &rng)
        return ARCAugmentation(checkedDihedral: tid, colourMap: [0] + colours)
    }

    package var isIdentity: Bool { self == .identity }

    /// The augmentation that undoes this one: the inverse dihedral transform and the inverse colour map.
    package var inverse: ARCAugmentation {
        var inv = [UInt8](repeating: 0, count: ARCGrid.colourCount)
        for (c, mapped) in colourMap.enumerated() { inv[Int(mapped)] = UInt8(c) }
        return ARCAugmentation(checkedDihedral: Dihedral.inverse[dihedral], colourMap: inv)
    }

    /// Maps the colours, then applies the dihedral transform.
    package func apply(_ grid: ARCGrid) -> ARCGrid {
        let (r, c) = Dihedral.outputShape(dihedral, rows: grid.rows, cols: grid.cols)
        let moved = Dihedral.apply(dihedral, to: grid.cells, rows: grid.rows, cols: grid.cols)
        return ARCGrid(rows: r, cols: c, cells: moved.map { colourMap[Int($0)] })
    }

    package func apply(_ pair: ARCPair) -> ARCPair { ARCPair(input: apply(pair.input), output: apply(pair.output)) }

    /// The augmented task; it keeps the original id (its version name is `name(task:)`).
    package func apply(_ task: ARCTask) -> ARCTask {
        ARCTask(id: task.id, train: task.train.map(apply), test: task.test.map(apply))
    }

    /// Undoes the augmentation on a grid of this version (a prediction, say): inverse dihedral transform,
    /// then inverse colour map (docs/data.md: ARC-AGI).
    package func undo(_ grid: ARCGrid) -> ARCGrid { inverse.apply(grid) }

    /// "t{tid}|||{colour map}".
    package var description: String {
        "t\(dihedral)\(Self.separator)" + colourMap.map(String.init).joined()
    }

    /// The version's puzzle name: the bare task id for the identity, else `task|||t{tid}|||{map}`.
    package func name(task: String) -> String {
        isIdentity ? task : task + Self.separator + description
    }

    /// Splits a puzzle name into its task id and augmentation (a bare id is the identity). Nil when the
    /// suffix after a separator is not a valid `t{tid}|||{map}`.
    package static func parse(name: String) -> (task: String, augmentation: ARCAugmentation)? {
        let parts = name.arcSplit(on: separator)
        guard parts.count >= 3 else { return parts.count == 1 ? (name, .identity) : nil }
        let tidText = parts[parts.count - 2], mapText = parts[parts.count - 1]
        guard tidText.hasPrefix("t"), let tid = Int(tidText.dropFirst()), mapText.utf8.count == 10 else { return nil }
        let map = mapText.utf8.map { $0 &- UInt8(ascii: "0") }
        guard let aug = try? ARCAugmentation(dihedral: tid, colourMap: map) else { return nil }
        return (parts[0 ..< parts.count - 2].joined(separator: separator), aug)
    }
}

extension String {
    /// Splits on a multi-character separator (FoundationEssentials-free).
    fileprivate func arcSplit(on separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let r = rest.firstRange(of: separator) {
            parts.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}

/// The 30 × 30 token encoding of ARC grids (docs/data.md: ARC-AGI): PAD 0, EOS 1, colour c → c + 2 (vocabulary
/// 12). A grid placed at (row, col) has EOS cells on the row just below it (its columns only) and the
/// column just right of it (its rows only), each when inside the canvas; the diagonal corner is not
/// marked. Everything else is PAD; the canvas is flattened row-major to 900 tokens.
package enum ARCEncoding {
    package static let side = 30
    package static let seqLen = side * side
    package static let vocabSize = 12
    package static let pad: UInt8 = 0
    package static let eos: UInt8 = 1
    package static let colourOffset: UInt8 = 2

    /// The grid at (row, col): row + rows ≤ 30 and col + cols ≤ 30.
    @inlinable
    package static func encode(_ grid: ARCGrid, row: Int = 0, col: Int = 0) -> [UInt8] {
        var out = [UInt8](repeating: pad, count: seqLen)
        out.withUnsafeMutableBufferPointer { encode(grid, row: row, col: col, into: $0) }
        return out
    }

    /// Writes the 900 tokens of the grid at (row, col) into `out`.
    @inlinable
    package static func encode(_ grid: ARCGrid, row: Int, col: Int, into out: UnsafeMutableBufferPointer<UInt8>) {
        precondition(out.count == seqLen, "an ARC canvas has \(seqLen) tokens (got \(out.count))")
        precondition(row >= 0 && col >= 0 && row + grid.rows <= side && col + grid.cols <= side,
                     "a \(grid.rows)x\(grid.cols) grid does not fit the canvas at (\(row), \(col))")
        out.update(repeating: pad)
        for r in 0..<grid.rows {
            for c in 0..<grid.cols { out[(row + r) * side + col + c] = grid.cells[r * grid.cols + c] + colourOffset }
        }
        let eosRow = row + grid.rows, eosCol = col + grid.cols
        if eosRow < side { for c in col..<eosCol { out[eosRow * side + c] = eos } }
        if eosCol < side { for r in row..<eosRow { out[r * side + eosCol] = eos } }
    }

    /// The reference evaluator's `_crop` (docs/data.md: ARC-AGI): the largest-area rectangle anchored at the top-left
    /// in which every token is a colour (2...11), scanning rows while the usable width only shrinks; the
    /// colours minus 2. Any token values are accepted (a model's argmax); the result may be empty.
    @inlinable
    package static func crop<C: RandomAccessCollection>(_ tokens: C) -> ARCGrid where C.Element: BinaryInteger, C.Index == Int {
        precondition(tokens.count == seqLen, "an ARC canvas has \(seqLen) tokens (got \(tokens.count))")
        let base = tokens.startIndex
        func isColour(_ t: C.Element) -> Bool { t >= 2 && t <= 11 }
        var width = side, bestArea = 0, best = (rows: 0, cols: 0)
        for rows in 1...side {
            var c = 0
            while c < width && isColour(tokens[base + (rows - 1) * side + c]) { c += 1 }
            width = c
            if rows * width > bestArea {
                bestArea = rows * width
                best = (rows, width)
            }
        }
        var cells: [UInt8] = []
        cells.reserveCapacity(bestArea)
        for r in 0..<best.rows {
            for c in 0..<best.cols { cells.append(UInt8(truncatingIfNeeded: tokens[base + r * side + c]) - colourOffset) }
        }
        return ARCGrid(rows: best.rows, cols: best.cols, cells: cells)
    }

    /// Finds a grid placed anywhere (a translated train example): its corner is the first non-PAD token
    /// in row-major order; its extent runs to the EOS marks or the canvas edge. Nil when the canvas is not
    /// a well-formed encoding (checked by re-encoding), e.g. for an arbitrary prediction.
    @inlinable
    package static func decode<C: RandomAccessCollection>(_ tokens: C) -> (grid: ARCGrid, row: Int, col: Int)?
    where C.Element: BinaryInteger, C.Index == Int {
        precondition(tokens.count == seqLen, "an ARC canvas has \(seqLen) tokens (got \(tokens.count))")
        let base = tokens.startIndex
        guard let first = (0..<seqLen).first(where: { tokens[base + $0] != C.Element(pad) }) else { return nil }
        let row = first / side, col = first % side
        func isColour(_ i: Int) -> Bool { tokens[base + i] >= 2 && tokens[base + i] <= 11 }
        var cols = 0
        while col + cols < side && isColour(row * side + col + cols) { cols += 1 }
        var rows = 0
        while row + rows < side && isColour((row + rows) * side + col) { rows += 1 }
        guard rows > 0 && cols > 0 else { return nil }
        var cells: [UInt8] = []
        for r in 0..<rows {
            for c in 0..<cols {
                let t = tokens[base + (row + r) * side + col + c]
                guard t >= 2 && t <= 11 else { return nil }
                cells.append(UInt8(truncatingIfNeeded: t) - colourOffset)
            }
        }
        let grid = ARCGrid(rows: rows, cols: cols, cells: cells)
        let again = encode(grid, row: row, col: col)
        for i in 0..<seqLen where C.Element(again[i]) != tokens[base + i] { return nil }
        return (grid, row, col)
    }
}
