import TRMDIS
/// A faster exact solver for the generator's uniqueness checks: backtracking with naked and hidden
/// singles propagated at every node. It answers the same questions as `SudokuSolver` (does a solution
/// exist? how many, up to a limit?) with far smaller search trees on sparse grids, which is where clue
/// removal spends its time. Difficulty is still measured by `SudokuSolver`, whose plain search is the
/// definition of `SudokuEffort`.
///
/// One instance is reused for every check of one generation attempt; it is not shared between threads.
/// It is a struct (static exclusivity checks, none at run time) over raw buffers owned by `storage`.
struct SudokuPropagator {
    private final class Storage {
        let pointers: [UnsafeMutableRawPointer]
        init(_ pointers: [UnsafeMutableRawPointer]) { self.pointers = pointers }
        deinit { for p in pointers { p.deallocate() } }
    }
    private let storage: Storage

    let shape: SudokuShape
    private let n: Int, cells: Int, all: UInt32
    // Raw buffers rather than arrays: the search touches them millions of times, and class-held arrays
    // pay an exclusivity check and a uniqueness check on every write.
    private let units: UnsafeMutablePointer<Int>     // 3N units × N cells
    private let cellUnit: UnsafeMutablePointer<Int>  // cell → (row unit, column unit, box unit), 3 per cell
    private let grid: UnsafeMutablePointer<UInt8>
    private let masks: UnsafeMutablePointer<UInt32>  // used digits per unit
    private let trail: UnsafeMutablePointer<Int>
    private var trailLength = 0
    private var forbidCell = -1
    private var forbidBit: UInt32 = 0
    private var count = 0
    private var limit = 1

    init(shape: SudokuShape) {
        self.shape = shape
        n = shape.size
        cells = shape.cellCount
        all = shape.allDigits
        let unitList = shape.unitCells
        units = .allocate(capacity: unitList.count)
        units.initialize(from: unitList, count: unitList.count)
        cellUnit = .allocate(capacity: 3 * cells)
        for cell in 0..<cells {
            cellUnit[3 * cell] = shape.rowOf[cell]
            cellUnit[3 * cell + 1] = shape.size + shape.colOf[cell]
            cellUnit[3 * cell + 2] = 2 * shape.size + shape.boxOf[cell]
        }
        grid = .allocate(capacity: cells)
        grid.initialize(repeating: 0, count: cells)
        masks = .allocate(capacity: 3 * n)
        masks.initialize(repeating: 0, count: 3 * n)
        trail = .allocate(capacity: cells)
        trail.initialize(repeating: 0, count: cells)
        storage = Storage([UnsafeMutableRawPointer(units), UnsafeMutableRawPointer(cellUnit), UnsafeMutableRawPointer(grid),
                           UnsafeMutableRawPointer(masks), UnsafeMutableRawPointer(trail)])
    }

    /// Solutions of `digits` (0 = blank), counted up to `limit`; `avoiding` forbids one digit in one cell.
    mutating func countSolutions(_ digits: [UInt8], limit: Int, avoiding: (cell: Int, digit: UInt8)? = nil) -> Int {
        for u in 0..<3 * n { masks[u] = 0 }
        trailLength = 0
        for cell in 0..<cells {
            let d = digits[cell]
            grid[cell] = d
            if d == 0 { continue }
            if Int(d) > n { return 0 }
            let bit = UInt32(1) << UInt32(d - 1)
            let (a, b, c) = (cellUnit[3 * cell], cellUnit[3 * cell + 1], cellUnit[3 * cell + 2])
            if (masks[a] | masks[b] | masks[c]) & bit != 0 { return 0 }
            masks[a] |= bit; masks[b] |= bit; masks[c] |= bit
        }
        if let avoiding {
            forbidCell = avoiding.cell
            forbidBit = UInt32(1) << UInt32(avoiding.digit - 1)
        } else {
            forbidCell = -1
            forbidBit = 0
        }
        count = 0
        self.limit = limit
        _ = search()
        return count
    }

    @inline(__always)
    private func candidates(_ cell: Int) -> UInt32 {
        let m = masks[cellUnit[3 * cell]] | masks[cellUnit[3 * cell + 1]] | masks[cellUnit[3 * cell + 2]]
        return all & ~m & (cell == forbidCell ? ~forbidBit : all)
    }

    @inline(__always)
    private mutating func place(_ cell: Int, _ bit: UInt32) {
        grid[cell] = UInt8(bit.trailingZeroBitCount + 1)
        masks[cellUnit[3 * cell]] |= bit
        masks[cellUnit[3 * cell + 1]] |= bit
        masks[cellUnit[3 * cell + 2]] |= bit
        trail[trailLength] = cell
        trailLength += 1
    }

    private mutating func undo(to mark: Int) {
        while trailLength > mark {
            trailLength -= 1
            let cell = trail[trailLength]
            let bit = ~(UInt32(1) << UInt32(grid[cell] - 1))
            masks[cellUnit[3 * cell]] &= bit
            masks[cellUnit[3 * cell + 1]] &= bit
            masks[cellUnit[3 * cell + 2]] &= bit
            grid[cell] = 0
        }
    }

    /// Places every naked and hidden single until none is left; false on a contradiction.
    private mutating func propagate() -> Bool {
        var changed = true
        while changed {
            changed = false
            for cell in 0..<cells where grid[cell] == 0 {
                let c = candidates(cell)
                if c == 0 { return false }
                if c & (c - 1) == 0 { place(cell, c); changed = true }
            }
            if changed { continue }
            for u in 0..<3 * n {
                var once: UInt32 = 0, twice: UInt32 = 0
                for k in 0..<n {
                    let cell = units[u * n + k]
                    if grid[cell] != 0 { continue }
                    let m = candidates(cell)
                    twice |= once & m
                    once |= m
                }
                if (once | masks[u]) != all { return false }  // a missing digit has nowhere to go
                var hidden = once & ~twice
                while hidden != 0 {
                    let bit = hidden & (~hidden &+ 1)
                    hidden &= hidden - 1
                    var target = -1
                    for k in 0..<n {
                        let cell = units[u * n + k]
                        if grid[cell] == 0 && candidates(cell) & bit != 0 { target = cell; break }
                    }
                    if target < 0 { return false }  // two hidden singles claimed the same cell
                    place(target, bit)
                    changed = true
                }
            }
        }
        return true
    }

    /// True when the search should stop (the limit is reached).
    private mutating func search() -> Bool {
        let entry = trailLength
        defer { undo(to: entry) }
        guard propagate() else { return false }
        var best = -1, bestCount = Int.max
        for cell in 0..<cells where grid[cell] == 0 {
            let c = candidates(cell).nonzeroBitCount
            if c < bestCount { best = cell; bestCount = c; if c <= 2 { break } }
        }
        if best < 0 {
            count += 1
            return count >= limit
        }
        let mark = trailLength
        var remaining = candidates(best)
        while remaining != 0 {
            let bit = remaining & (~remaining &+ 1)
            remaining &= remaining - 1
            place(best, bit)
            if search() { return true }
            undo(to: mark)
        }
        return false
    }
}
