#if canImport(Glibc)
import Glibc
#endif
import TRMDIS

/// One generated (input, label) pair in byte tokens.
package struct GeneratedExample: Equatable, Sendable {
    package var input: [UInt8]
    package var label: [UInt8]

    package init(input: [UInt8], label: [UInt8]) {
        self.input = input
        self.label = label
    }
}

/// A seeded puzzle generator of any task, behind one interface for the builder.
enum PuzzleSource: Sendable {
    case sudoku(SudokuGenerator)
    case maze(MazeGenerator)
    case queens(QueensGenerator)

    init(task: TaskKind, options: BuildOptions) throws(TRMError) {
        switch task {
        case .sudoku(let r, let c):
            self = .sudoku(try SudokuGenerator(shape: try SudokuShape(boxRows: r, boxCols: c), options: options.sudoku))
        case .maze(let n):
            self = .maze(try MazeGenerator(size: n, options: options.maze))
        case .nqueens(let n):
            self = .queens(try QueensGenerator(size: n, options: options.queens))
        }
    }

    func attempt(rng: inout RNG) -> GeneratedExample? {
        switch self {
        case .sudoku(let g):
            guard let p = g.attempt(rng: &rng) else { return nil }
            return GeneratedExample(input: p.puzzle.map { $0 + 1 }, label: p.solution.map { $0 + 1 })
        case .maze(let g):
            guard let p = g.attempt(rng: &rng) else { return nil }
            return GeneratedExample(input: p.input, label: p.label)
        case .queens(let g):
            guard let p = g.attempt(rng: &rng) else { return nil }
            return GeneratedExample(input: p.input, label: p.label)
        }
    }
}

/// Independent, reproducible random streams: puzzle `index` of stream `stream` always starts from the
/// same RNG state, whatever the thread count or the order puzzles are made in. This is what lets
/// generation run on every core and still give identical datasets for a seed.
func streamRNG(seed: UInt64, stream: UInt64, index: Int) -> RNG {
    func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return RNG(seed: mix(mix(seed ^ mix(stream)) ^ UInt64(truncatingIfNeeded: index)))
}

/// Makes puzzles first ..< first + count of a stream on the engine's thread pool. Each puzzle retries
/// from its own RNG until the source accepts one; after `maxAttempts` rejections it is an error, since
/// the filters are then (nearly) unsatisfiable.
func generateExamples(_ source: PuzzleSource, count: Int, first: Int, seed: UInt64, stream: UInt64,
                      maxAttempts: Int) throws(TRMError) -> [GeneratedExample] {
    var results = [GeneratedExample?](repeating: nil, count: count)
    let counter = WorkCounter()
    results.withUnsafeMutableBufferPointer { out in
        Threads.pool.runOnAll { _ in
            // Threads take the next index as they finish: filtered puzzles vary a lot in cost.
            while let i = counter.next(below: count) {
                var rng = streamRNG(seed: seed, stream: stream, index: first + i)
                for _ in 0..<maxAttempts {
                    if let e = source.attempt(rng: &rng) { out[i] = e; break }
                }
            }
        }
    }
    var examples: [GeneratedExample] = []
    examples.reserveCapacity(count)
    for r in results {
        guard let r else {
            throw .invalidArgument("no puzzle met the filters in \(maxAttempts) attempts; relax them (fewer guesses, a shorter minimum path, more clues)")
        }
        examples.append(r)
    }
    return examples
}

/// A 64-bit fingerprint of an example (input then label), for the train/test disjointness check.
/// A collision only discards a test candidate, so a hash is enough and keeps memory flat even for
/// a million augmented train examples.
func fingerprint(_ input: some Sequence<UInt8>, _ label: some Sequence<UInt8>) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in input { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    h = (h ^ 0xFF) &* 0x0000_0100_0000_01B3
    for b in label { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    h ^= h >> 33
    h &*= 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 33
    return h
}

/// A shared "next index" for dynamic scheduling on the pool (the standard library has no atomics).
final class WorkCounter: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var value = 0

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    /// The next unclaimed index, or nil once `bound` is reached.
    func next(below bound: Int) -> Int? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard value < bound else { return nil }
        value += 1
        return value - 1
    }
}
