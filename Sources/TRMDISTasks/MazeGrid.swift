import TRMDIS
/// Maze tokens, as the reference maps the characters `# SGo` (docs/formats.md: Datasets): PAD 0, wall 1, open 2,
/// start 3, goal 4, path 5; vocabulary 6. An input holds the maze with S and G; its label is the same
/// grid with the cells of the shortest path between them marked `o` (S and G keep their own tokens).
package enum MazeToken {
    package static let pad: UInt8 = 0
    package static let wall: UInt8 = 1
    package static let open: UInt8 = 2
    package static let start: UInt8 = 3
    package static let goal: UInt8 = 4
    package static let path: UInt8 = 5
    package static let vocabSize = 6
    /// Display characters by token (PAD shows as '?').
    package static let characters: [Character] = ["?", "#", " ", "S", "G", "o"]

    /// Whether a token can be walked on.
    @inline(__always) package static func isPassable(_ t: UInt8) -> Bool { t >= open && t <= path }
}

/// Breadth-first search over a square maze's passable cells: distances from one cell, and the number of
/// distinct shortest paths to each cell (capped at 2, all that "is it unique?" needs).
package struct MazeDistances: Sendable {
    package let size: Int
    /// Steps from the source; -1 where unreachable.
    package var distance: [Int]
    /// Shortest paths from the source, capped at 2.
    package var pathCount: [UInt8]

    /// BFS from `source` over the cells for which `passable` is true.
    package init(size: Int, source: Int, passable: (Int) -> Bool) {
        self.size = size
        distance = [Int](repeating: -1, count: size * size)
        pathCount = [UInt8](repeating: 0, count: size * size)
        guard passable(source) else { return }
        var queue = [source]
        queue.reserveCapacity(size * size)
        distance[source] = 0
        pathCount[source] = 1
        var head = 0
        while head < queue.count {
            let v = queue[head]
            head += 1
            for k in 0..<4 {
                let w = MazeDistances.neighbor(v, k, size)
                if w < 0 { continue }
                if distance[w] == -1 {
                    guard passable(w) else { continue }
                    distance[w] = distance[v] + 1
                    queue.append(w)
                }
                if distance[w] == distance[v] + 1 { pathCount[w] = min(2, pathCount[w] + pathCount[v]) }
            }
        }
    }

    /// The k-th (0..<4: up, down, left, right) neighbour of cell v in a size × size grid, or -1 off the edge.
    @inline(__always)
    package static func neighbor(_ v: Int, _ k: Int, _ size: Int) -> Int {
        let r = v / size, c = v % size
        switch k {
        case 0: return r > 0 ? v - size : -1
        case 1: return r < size - 1 ? v + size : -1
        case 2: return c > 0 ? v - 1 : -1
        default: return c < size - 1 ? v + 1 : -1
        }
    }

    /// One shortest path from the source to `target` (both included), walking back along decreasing
    /// distances; nil if unreachable. With a unique shortest path this is that path.
    package func path(to target: Int) -> [Int]? {
        guard distance[target] >= 0 else { return nil }
        var path = [target]
        var v = target
        while distance[v] > 0 {
            for k in 0..<4 {
                let w = MazeDistances.neighbor(v, k, size)
                if w >= 0 && distance[w] == distance[v] - 1 { v = w; break }
            }
            path.append(v)
        }
        return path.reversed()
    }
}
