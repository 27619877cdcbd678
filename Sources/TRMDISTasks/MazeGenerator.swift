import TRMDIS
/// What kind of mazes to make.
///
/// Maze-Hard (docs/formats.md: Datasets) is 30×30 with shortest paths longer than 110 steps: `minPathLength` is that
/// filter. `loopFraction` opens that fraction of the remaining inner walls after carving, so there are
/// loops and several routes to compare (a perfect maze has exactly one route and is easier to learn);
/// `uniqueShortestPath` keeps only S/G pairs whose shortest path is unique, so the label is the one
/// right answer.
package struct MazeOptions: Equatable, Sendable {
    /// Minimum number of steps from S to G.
    package var minPathLength: Int
    /// Probability that each remaining wall between two corridor cells is knocked down.
    package var loopFraction: Double
    /// Keep only mazes whose S→G shortest path is unique.
    package var uniqueShortestPath: Bool

    package init(minPathLength: Int = 0, loopFraction: Double = 0.1, uniqueShortestPath: Bool = true) {
        self.minPathLength = minPathLength
        self.loopFraction = loopFraction
        self.uniqueShortestPath = uniqueShortestPath
    }
}

/// One maze as tokens (MazeToken), with its solution and path length.
package struct MazePuzzle: Equatable, Sendable {
    package var input: [UInt8]
    package var label: [UInt8]
    /// Steps from S to G.
    package var pathLength: Int
}

/// Seeded maze generation: randomised depth-first carving on the odd lattice of the grid (corridors at
/// odd coordinates, walls between), extra openings for loops, then S at a random open cell and G at a
/// random open cell far enough away, with the BFS shortest path marked in the label. On an even side
/// the last row and column stay wall.
package struct MazeGenerator: Sendable {
    package let size: Int
    package let options: MazeOptions

    package init(size: Int, options: MazeOptions = MazeOptions()) throws(TRMError) {
        guard size >= 5 && size <= 256 else { throw .invalidArgument("maze side must be in 5...256 (got \(size))") }
        guard options.loopFraction >= 0 && options.loopFraction <= 1 else {
            throw .invalidArgument("loopFraction must be in 0...1 (got \(options.loopFraction))")
        }
        guard options.minPathLength >= 0 && options.minPathLength < size * size else {
            throw .invalidArgument("minPathLength must be in [0, \(size * size)) (got \(options.minPathLength))")
        }
        self.size = size
        self.options = options
    }

    /// The carved maze: wall and open tokens only.
    package func carve(rng: inout RNG) -> [UInt8] {
        let n = size
        let m = n % 2 == 1 ? n : n - 1  // the odd region that holds the lattice
        let cellsPerSide = (m - 1) / 2
        var grid = [UInt8](repeating: MazeToken.wall, count: n * n)
        var visited = [Bool](repeating: false, count: cellsPerSide * cellsPerSide)
        func at(_ i: Int, _ j: Int) -> Int { (2 * i + 1) * n + (2 * j + 1) }
        let startCell = rng.below(cellsPerSide * cellsPerSide)
        var stack = [startCell]
        visited[startCell] = true
        grid[at(startCell / cellsPerSide, startCell % cellsPerSide)] = MazeToken.open
        var choices: [Int] = []
        while let top = stack.last {
            let i = top / cellsPerSide, j = top % cellsPerSide
            choices.removeAll(keepingCapacity: true)
            if i > 0, !visited[top - cellsPerSide] { choices.append(top - cellsPerSide) }
            if i < cellsPerSide - 1, !visited[top + cellsPerSide] { choices.append(top + cellsPerSide) }
            if j > 0, !visited[top - 1] { choices.append(top - 1) }
            if j < cellsPerSide - 1, !visited[top + 1] { choices.append(top + 1) }
            if choices.isEmpty { stack.removeLast(); continue }
            let next = choices[rng.below(choices.count)]
            let ni = next / cellsPerSide, nj = next % cellsPerSide
            visited[next] = true
            grid[at(ni, nj)] = MazeToken.open
            grid[(i + ni + 1) * n + (j + nj + 1)] = MazeToken.open  // the wall between them
            stack.append(next)
        }
        // Loops: knock down inner walls that separate two corridor cells.
        if self.options.loopFraction > 0 {
            for r in 1..<(m - 1) {
                for c in 1..<(m - 1) where (r + c) % 2 == 1 && grid[r * n + c] == MazeToken.wall {
                    // A wall at (odd, even) joins left/right cells; at (even, odd) up/down cells.
                    if rng.uniform() < self.options.loopFraction { grid[r * n + c] = MazeToken.open }
                }
            }
        }
        return grid
    }

    /// One attempt: a maze meeting the options, or nil (the caller retries).
    package func attempt(rng: inout RNG) -> MazePuzzle? {
        let n = size
        var grid = carve(rng: &rng)
        let open = (0..<n * n).filter { grid[$0] == MazeToken.open }
        guard open.count >= 2 else { return nil }
        let start = open[rng.below(open.count)]
        let bfs = MazeDistances(size: n, source: start) { grid[$0] != MazeToken.wall }
        let goals = open.filter {
            $0 != start && bfs.distance[$0] >= max(1, options.minPathLength)
                && (!options.uniqueShortestPath || bfs.pathCount[$0] == 1)
        }
        guard !goals.isEmpty else { return nil }
        let goal = goals[rng.below(goals.count)]
        grid[start] = MazeToken.start
        grid[goal] = MazeToken.goal
        var label = grid
        guard let path = bfs.path(to: goal) else { return nil }
        for cell in path.dropFirst().dropLast() { label[cell] = MazeToken.path }
        return MazePuzzle(input: grid, label: label, pathLength: path.count - 1)
    }
}
