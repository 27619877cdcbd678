#if canImport(Glibc)
import Glibc
#endif
import CBLAS
import TRMDISKernelsC
import Synchronization

/// A fixed set of worker threads for the kernels. `parallelFor` splits a range into one contiguous
/// chunk per thread (the caller runs chunk 0), so a given thread count always partitions the work the
/// same way and results are reproducible bit for bit.
///
/// Hand-off: a worker that finished a job spins on the job counter for a while (`spinSeconds`) before it
/// sleeps on a condition variable, and so does the caller waiting for the workers. A step posts dozens of
/// small jobs per network call at batch 1; waking a sleeping thread costs tens of microseconds each time,
/// more than such a job computes (the same reason OpenMP runtimes spin by default).
package final class ThreadPool: @unchecked Sendable {
    package let threadCount: Int
    private var threads: [pthread_t] = []
    private let shared: Shared

    /// How long a waiting thread spins before it sleeps. TRMDIS_SPIN_US overrides (0: sleep at once). A pool
    /// with more threads than the process may use (`trmdis_available_cpus`: affinity mask, cgroup quota) never
    /// spins: a waiting thread would hold a core that a thread it waits for needs (64 threads on 2 CPUs:
    /// 31.7 s with the spin below, 17.7 s sleeping at once).
    static let spinSeconds: Double = {
        if let text = getenv("TRMDIS_SPIN_US").map({ String(cString: $0) }), let us = Double(text), us >= 0, us <= 1e6 {
            return us * 1e-6
        }
        return 1e-3
    }()

    /// How long a waiting thread spins before it starts offering its core to others (sched_yield).
    static let busySeconds = 50e-6

    /// Spins until `done()` or `spinSeconds` have passed; true if `done()` became true. After `busySeconds`
    /// every round yields the core: when the threads outnumber the free cores (more threads than cores, or
    /// other processes running), the thread being waited for may need this one's core, and a spin that
    /// holds it for the whole `spinSeconds` made every hand-off that long (3 threads on 2 cores ran 4.5x
    /// slower than 2).
    @inline(__always)
    static func spin(for spinSeconds: Double, until done: () -> Bool) -> Bool {
        if done() { return true }
        guard spinSeconds > 0 else { return false }
        let start = monotonicSeconds()
        let deadline = start + spinSeconds, busyUntil = start + min(busySeconds, spinSeconds)
        while true {
            for _ in 0..<16 {
                if done() { return true }
                trmdis_cpu_relax()
            }
            let now = monotonicSeconds()
            if now > deadline { return done() }
            if now > busyUntil { sched_yield() }
        }
    }

    /// What the workers touch. They hold it strongly, so it outlives the pool until they have exited.
    private final class Shared {
        var mutex = pthread_mutex_t()
        var startCondition = pthread_cond_t()
        var doneCondition = pthread_cond_t()
        /// Held by the thread driving the workers; a second caller runs its work inline instead.
        var callerLock = pthread_mutex_t()
        /// Bumped (releasing the job and context) to post a job; workers compare it with the last they ran.
        let generation = Atomic<Int>(0)
        /// Workers still running the current job.
        let pending = Atomic<Int>(0)
        /// Workers asleep on startCondition, and whether the caller sleeps on doneCondition: a wake-up is
        /// signalled only when someone sleeps (sequentially consistent, so none is lost).
        let sleepers = Atomic<Int>(0)
        let callerSleeps = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        /// How long this pool's waiting threads spin (`ThreadPool.spinSeconds`, or 0).
        let spinSeconds: Double
        var job: RawJob?
        var context: UnsafeRawPointer?

        init(spinSeconds: Double) {
            self.spinSeconds = spinSeconds
            pthread_mutex_init(&mutex, nil)
            pthread_mutex_init(&callerLock, nil)
            pthread_cond_init(&startCondition, nil)
            pthread_cond_init(&doneCondition, nil)
        }

        deinit {
            pthread_cond_destroy(&startCondition)
            pthread_cond_destroy(&doneCondition)
            pthread_mutex_destroy(&mutex)
            pthread_mutex_destroy(&callerLock)
        }

        func workerLoop(index: Int) {
            var seen = 0
            while true {
                let posted = ThreadPool.spin(for: spinSeconds) { generation.load(ordering: .acquiring) != seen || stopping.load(ordering: .relaxed) }
                if !posted {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .sequentiallyConsistent) {
                        pthread_cond_wait(&startCondition, &mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                }
                if stopping.load(ordering: .acquiring) { return }
                seen = generation.load(ordering: .acquiring)
                runCurrentJob(index)
                if pending.subtract(1, ordering: .sequentiallyConsistent).newValue == 0
                    && callerSleeps.load(ordering: .sequentiallyConsistent) {
                    pthread_mutex_lock(&mutex)
                    pthread_cond_signal(&doneCondition)
                    pthread_mutex_unlock(&mutex)
                }
            }
        }

        /// Calls the posted job (published by the generation bump the worker acquired).
        @inline(never)
        func runCurrentJob(_ index: Int) {
            if let work = job, let data = context { work(data, index) }
        }
    }

    private final class WorkerContext {
        let shared: Shared
        let index: Int
        init(shared: Shared, index: Int) { self.shared = shared; self.index = index }
    }

    /// Starts `threads - 1` workers. If the system refuses one (a process or memory limit), the workers
    /// already started are stopped and joined and `.outOfMemory` is thrown: nothing traps.
    package init(threads: Int) throws(TRMError) {
        threadCount = max(1, threads)
        shared = Shared(spinSeconds: threadCount <= Int(trmdis_available_cpus()) ? ThreadPool.spinSeconds : 0)
        for worker in 1..<threadCount {
            let context = Unmanaged.passRetained(WorkerContext(shared: shared, index: worker)).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.shared.workerLoop(index: context.index)
                return nil
            }, context)
            guard rc == 0 else {
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                stopWorkers()
                throw .outOfMemory("cannot start worker thread \(worker) of \(threadCount): \(errnoText(rc))")
            }
            self.threads.append(thread)
        }
    }

    deinit { stopWorkers() }

    /// How long this pool's waiting threads spin before they sleep.
    package var waitSpinSeconds: Double { shared.spinSeconds }

    /// Tells every worker to stop and joins it (idempotent).
    private func stopWorkers() {
        pthread_mutex_lock(&shared.mutex)
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(&shared.startCondition)
        pthread_mutex_unlock(&shared.mutex)
        for thread in threads { pthread_join(thread, nil) }
        threads = []
    }

    /// A job as the workers see it: a function that captures nothing, and a pointer to its data.
    typealias RawJob = (UnsafeRawPointer, Int) -> Void

    /// Runs `job(context, t)` once for every t in 0..<threadCount and returns when all are done. The
    /// workers serve one caller at a time: a call made while they are busy (another model on another
    /// thread, or a nested call) runs every t on the calling thread, which computes the same values.
    private func dispatch(_ job: @escaping RawJob, _ context: UnsafeRawPointer) {
        let s = shared
        guard threadCount > 1, pthread_mutex_trylock(&s.callerLock) == 0 else {
            for t in 0..<threadCount { job(context, t) }
            return
        }
        defer { pthread_mutex_unlock(&s.callerLock) }
        s.job = job
        s.context = context
        s.pending.store(threadCount - 1, ordering: .relaxed)
        s.generation.add(1, ordering: .sequentiallyConsistent)  // publishes job, context and pending
        if s.sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(&s.mutex)
            pthread_cond_broadcast(&s.startCondition)
            pthread_mutex_unlock(&s.mutex)
        }
        job(context, 0)
        if !ThreadPool.spin(for: s.spinSeconds, until: { s.pending.load(ordering: .acquiring) == 0 }) {
            pthread_mutex_lock(&s.mutex)
            s.callerSleeps.store(true, ordering: .sequentiallyConsistent)
            while s.pending.load(ordering: .sequentiallyConsistent) > 0 { pthread_cond_wait(&s.doneCondition, &s.mutex) }
            s.callerSleeps.store(false, ordering: .sequentiallyConsistent)
            pthread_mutex_unlock(&s.mutex)
        }
        s.job = nil
        s.context = nil
    }

    /// What a job's context points at: the caller's arguments and function, and the split.
    private struct Frame<Args> {
        var args: Args
        var body: (Args, Range<Int>) -> Void
        var count: Int
        var workers: Int
    }

    private struct EachFrame<Args> {
        var args: Args
        var body: (Args, Int) -> Void
    }

    /// Splits 0..<count into contiguous chunks, one per thread (small ranges run on the caller), and calls
    /// `body(args, chunk)` for each. Write `body` as a closure that captures nothing and reads what it needs
    /// from `args` (pointers, sizes): then a call allocates nothing, where a capturing closure would be
    /// boxed on the heap at every call.
    @inline(__always)
    package func parallelFor<Args>(_ count: Int, minimumPerThread: Int = 1, _ args: Args,
                                   _ body: @escaping (Args, Range<Int>) -> Void) {
        if count <= 0 { return }
        let workers = min(threadCount, max(1, count / max(1, minimumPerThread)))
        if workers == 1 { body(args, 0..<count); return }
        var frame = Frame(args: args, body: body, count: count, workers: workers)
        withUnsafePointer(to: &frame) { p in
            dispatch({ raw, t in
                let f = raw.assumingMemoryBound(to: Frame<Args>.self)
                let count = f.pointee.count, workers = f.pointee.workers
                guard t < workers else { return }
                let start = count * t / workers, end = count * (t + 1) / workers
                if start < end { f.pointee.body(f.pointee.args, start..<end) }
            }, UnsafeRawPointer(p))
        }
    }

    /// `body(args, t)` once for every t in 0..<threadCount; `body` should capture nothing (as above).
    @inline(__always)
    package func runOnAll<Args>(_ args: Args, _ body: @escaping (Args, Int) -> Void) {
        var frame = EachFrame(args: args, body: body)
        withUnsafePointer(to: &frame) { p in
            dispatch({ raw, t in
                let f = raw.assumingMemoryBound(to: EachFrame<Args>.self)
                f.pointee.body(f.pointee.args, t)
            }, UnsafeRawPointer(p))
        }
    }

    /// `body(t)` once for every t in 0..<threadCount, for code outside the per-step path: the closure may
    /// capture, at the price of one heap box per call.
    package func runOnAll(_ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { escaping in
            withUnsafePointer(to: escaping) { p in
                dispatch({ raw, t in raw.assumingMemoryBound(to: ((Int) -> Void).self).pointee(t) }, UnsafeRawPointer(p))
            }
        }
    }
}

/// The engine's threads: one pool for the kernels and for splitting matrix products. OpenBLAS is kept
/// single-threaded, so its own workers never spin on a core the pool needs.
public enum Threads {
    /// The default pool: one thread per core, or fewer if the system refuses threads.
    nonisolated(unsafe) private static var current: ThreadPool = {
        var n = defaultCount()
        while n > 1 {
            if let pool = try? ThreadPool(threads: n) { return pool }
            n /= 2
        }
        return try! ThreadPool(threads: 1)  // starts no thread, cannot fail
    }()

    package static var pool: ThreadPool { current }
    public static var count: Int { current.threadCount }

    /// The most threads a pool may have.
    public static let maximum = 1024

    /// Sets the thread count (1...maximum, and at most `BLASRuntime.concurrentProducts`). Not safe to call
    /// while a step runs. If the threads cannot be started, or the address-space limit leaves no room for
    /// OpenBLAS's work buffer for each of them (BLASRuntime.reserveWorkBuffers), the previous pool stays and
    /// `.outOfMemory` is thrown.
    public static func set(_ count: Int) throws(TRMError) {
        guard (1...maximum).contains(count) else { throw .invalidArgument("threads must be in 1...\(maximum) (got \(count))") }
        if let slots = BLASRuntime.concurrentProducts, count > slots {
            throw .invalidArgument("threads must be at most \(slots) with this OpenBLAS (got \(count)): it keeps work buffers "
                + "for \(slots) products at once, and beyond that it prints warnings or stops the process")
        }
        guard count != current.threadCount else { return }
        let previous = current
        current = try ThreadPool(threads: count)
        do throws(TRMError) { try BLASRuntime.reserveWorkBuffers() } catch {
            current = previous
            throw error
        }
    }

    static func defaultCount() -> Int {
        _ = BLASRuntime.shared  // resolves OpenBLAS (one thread per call) before the pool starts
        return min(Int(trmdis_available_cpus()), BLASRuntime.concurrentProducts ?? maximum)
    }
}
