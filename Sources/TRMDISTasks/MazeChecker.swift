import TRMDIS
/// Whether a predicted maze label is a right answer: the cells it marks `o` must join S to G through
/// open cells in as few steps as the maze allows, with nothing else changed. Any shortest path counts
/// (a maze may have several even if generated ones have one).
package struct MazeCheck: Equatable, Sendable {
    /// The prediction equals the maze except that some open cells are marked as path.
    package var wellFormed: Bool
    /// The marked cells lead from S to G (4-connected).
    package var connects: Bool
    /// The marked route is a shortest one and marks no extra cells.
    package var shortest: Bool
    /// Steps along the marked route (nil if it does not connect).
    package var pathLength: Int?
    /// Steps along a true shortest path (nil if G is unreachable).
    package var shortestLength: Int?
    package var solved: Bool { wellFormed && connects && shortest }
}

package enum MazeChecker {
    /// Checks `prediction` against the maze `input` (both size × size tokens, MazeToken).
    package static func check(input: some Collection<UInt8>, prediction: some Collection<UInt8>, size: Int) -> MazeCheck {
        let maze = Array(input), pred = Array(prediction)
        var result = MazeCheck(wellFormed: false, connects: false, shortest: false, pathLength: nil, shortestLength: nil)
        guard maze.count == size * size, pred.count == maze.count,
              let start = maze.firstIndex(of: MazeToken.start), let goal = maze.firstIndex(of: MazeToken.goal) else {
            return result
        }
        result.wellFormed = zip(maze, pred).allSatisfy { m, p in p == m || (m == MazeToken.open && p == MazeToken.path) }
        let truth = MazeDistances(size: size, source: start) { maze[$0] != MazeToken.wall }
        if truth.distance[goal] >= 0 { result.shortestLength = truth.distance[goal] }
        // Walk only on marked cells (and G), where the maze itself is passable.
        let marked = MazeDistances(size: size, source: start) { cell in
            cell == start || cell == goal || (pred[cell] == MazeToken.path && MazeToken.isPassable(maze[cell]))
        }
        if marked.distance[goal] >= 0 {
            result.connects = true
            result.pathLength = marked.distance[goal]
        }
        let markedCount = pred.indices.filter { pred[$0] == MazeToken.path }.count
        if let length = result.pathLength, let best = result.shortestLength {
            result.shortest = length == best && markedCount == best - 1
        }
        return result
    }
}
