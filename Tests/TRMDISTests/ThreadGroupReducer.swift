@testable import TRMDIS
@testable import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// N data-parallel ranks as N threads of one process, for tests: a sum all-reduce through shared memory.
/// Each rank deposits its buffer; the last to arrive sums them in rank order and all copy the result, so
/// the sum is deterministic. `failAfter` makes every rank's call number k throw (a broken transport).
final class ThreadGroup: @unchecked Sendable {
    let size: Int
    var failAfter: Int?
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var buffers: [UnsafeMutablePointer<Float>?]
    private var arrived = 0, departed = 0, generation = 0
    private var calls = 0

    init(size: Int) {
        self.size = size
        buffers = Array(repeating: nil, count: size)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    func reducer(rank: Int) -> Rank { Rank(group: self, rank: rank) }

    final class Rank: GradientReducer {
        let group: ThreadGroup
        let rank: Int
        var size: Int { group.size }
        private var calls = 0
        init(group: ThreadGroup, rank: Int) { self.group = group; self.rank = rank }

        func allReduceSum(_ data: UnsafeMutablePointer<Float>, count: Int) throws(TRMError) {
            calls += 1
            if let k = group.failAfter, calls >= k { throw .io("test transport failed on call \(calls)") }
            group.sum(rank: rank, data, count)
        }
    }

    private func sum(rank: Int, _ data: UnsafeMutablePointer<Float>, _ count: Int) {
        pthread_mutex_lock(&mutex)
        // Wait until the previous round has fully departed.
        while departed != 0 { pthread_cond_wait(&condition, &mutex) }
        buffers[rank] = data
        arrived += 1
        let round = generation
        if arrived == size {
            for i in 0..<count {
                var s: Float = 0
                for r in 0..<size { s += buffers[r]![i] }
                for r in 0..<size { buffers[r]![i] = s }
            }
            arrived = 0
            departed = size
            generation += 1
            pthread_cond_broadcast(&condition)
        } else {
            while generation == round { pthread_cond_wait(&condition, &mutex) }
        }
        departed -= 1
        if departed == 0 { pthread_cond_broadcast(&condition) }
        pthread_mutex_unlock(&mutex)
    }
}

/// Runs body(0..<count) on `count` threads at once and waits for them all.
func runConcurrently(_ count: Int, _ body: @escaping (Int) -> Void) {
    final class Box { let body: (Int) -> Void; let index: Int; init(_ b: @escaping (Int) -> Void, _ i: Int) { body = b; index = i } }
    var threads: [pthread_t] = []
    for i in 0..<count {
        var t = pthread_t()
        let box = Unmanaged.passRetained(Box(body, i)).toOpaque()
        let rc = pthread_create(&t, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body(box.index)
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed")
        threads.append(t)
    }
    for t in threads { pthread_join(t, nil) }
}
