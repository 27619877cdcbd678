import Testing
@testable import TRMDIS
@testable import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// The MPI command line, as users run it: `mpirun -np 2 trmdis-mpi train` on this machine against
/// `trmdis train` in one process. Needs OpenMPI (scripts/install-deps.sh installs it) and the two
/// executables, which `swift test` builds next to this test bundle; without them these tests fail.
@Suite(.serialized) struct MPITests {
    static let bin: String = {
        // /proc/self/exe is the test runner in the build directory, next to the package's executables.
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
    }()
    static let work = "/tmp/trmdis-mpi-test-\(getpid())"
    // OpenMPI refuses root without these; --oversubscribe lets 2 ranks start on a 1-core machine.
    static let mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe"
    static let model = "--preset dis-compact --hidden 32 --heads 2 --layers 1 --T 1 --n 2 --supervision-steps 3"
        + " --batch 8 --lr 1e-3 --warmup 5 --seed 3 --threads 1"

    /// Runs a shell command; returns its exit status and combined output.
    @discardableResult
    static func sh(_ command: String) -> (Int32, String) {
        guard let pipe = popen("(\(command)) 2>&1", "r") else { return (-1, "popen failed") }
        var output = [UInt8](), chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, pipe)
            if n <= 0 { break }
            output += chunk[..<n]
        }
        let status = pclose(pipe)
        return ((status >> 8) & 0xFF, String(decoding: output, as: UTF8.self))
    }

    /// The dataset (4x4 Sudoku) and a check that everything these tests need is there.
    static let data: String = {
        let dir = work + "/data"
        sh("rm -rf \(work) && mkdir -p \(work) && \(bin)/trmdis data sudoku --size 4 --train 200 --test 20 --seed 1 --out \(dir)")
        return dir
    }()

    static func requireTools() throws {
        let (status, output) = sh("command -v mpirun && test -x \(bin)/trmdis-mpi && test -x \(bin)/trmdis")
        try #require(status == 0, "needs mpirun (OpenMPI: scripts/install-deps.sh) and \(bin)/trmdis-mpi, trmdis: \(output)")
    }

    static func train(ranks: Int, steps: Int, checkpoint: String, resume: Bool = false) throws {
        let command = (ranks == 1 ? "\(bin)/trmdis" : "\(mpirun) -np \(ranks) \(bin)/trmdis-mpi")
            + " train --data \(data) \(model) --steps \(steps) --checkpoint \(checkpoint)" + (resume ? " --resume" : "")
        let (status, output) = sh(command)
        try #require(status == 0, "\(command) failed:\n\(output)")
        if ranks > 1 { #expect(output.contains("data-parallel: \(ranks) processes share the global batch 8")) }
    }

    static func weights(_ checkpoint: String) throws -> Model { try Model.load(from: checkpoint + "/" + Trainer.modelFile) }

    /// The bar over MPI: 2 processes × 4 after 50 DIS steps equal 1 process × 8 within 1e-5.
    @Test func twoProcessesEqualOne() throws {
        try Self.requireTools()
        try Self.train(ranks: 1, steps: 50, checkpoint: Self.work + "/one")
        try Self.train(ranks: 2, steps: 50, checkpoint: Self.work + "/two")
        let error = DataParallelTests.relativeError(try Self.weights(Self.work + "/one"), try Self.weights(Self.work + "/two"))
        print("mpirun -np 2 against 1 process after 50 DIS steps: relative weight error \(error)")
        #expect(error < 1e-5 && error > 0)
    }

    /// A 2-process checkpoint continues in 1 process and the reverse, ending where 20 straight steps end.
    @Test func checkpointsMoveBetweenProcessCounts() throws {
        try Self.requireTools()
        let w = Self.work
        try Self.train(ranks: 1, steps: 20, checkpoint: w + "/straight")
        try Self.train(ranks: 2, steps: 10, checkpoint: w + "/from2")
        try Self.train(ranks: 1, steps: 10, checkpoint: w + "/from2", resume: true)
        try Self.train(ranks: 1, steps: 10, checkpoint: w + "/from1")
        try Self.train(ranks: 2, steps: 10, checkpoint: w + "/from1", resume: true)
        let straight = try Self.weights(w + "/straight")
        #expect(DataParallelTests.relativeError(straight, try Self.weights(w + "/from2")) < 1e-5)
        #expect(DataParallelTests.relativeError(straight, try Self.weights(w + "/from1")) < 1e-5)
    }

    /// kill -9 of rank 1 mid-run: mpirun ends the job within seconds, names the dead rank, and the last
    /// checkpoint (written atomically by rank 0) loads and resumes.
    @Test func aKilledRankStopsTheJob() throws {
        try Self.requireTools()
        let ck = Self.work + "/killed", log = Self.work + "/killed.log"
        let script = """
            \(Self.mpirun) -np 2 \(Self.bin)/trmdis-mpi train --data \(Self.data) \(Self.model) --steps 100000 \
                --checkpoint-every 5 --checkpoint \(ck) > \(log) 2>&1 &
            job=$!
            for i in $(seq 1 300); do [ -f \(ck)/state.safetensors ] && break; sleep 0.1; done
            sleep 0.5
            victim=""
            for p in $(cat /proc/$job/task/*/children); do
                tr '\\0' '\\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
            done
            [ -n "$victim" ] || { echo "no rank 1 found"; kill $job; exit 90; }
            start=$(date +%s%N)
            kill -9 $victim
            wait $job
            status=$?
            echo "job status $status after $(( ($(date +%s%N) - start) / 1000000 )) ms"
            """
        let (_, output) = Self.sh(script)
        let (_, logText) = Self.sh("cat \(log)")
        print(output)
        let parts = output.split(separator: " ")
        let status = Int(parts.dropFirst(2).first ?? "") ?? 0, ms = Int(parts.dropFirst(4).first ?? "") ?? .max
        #expect(output.hasPrefix("job status"), "\(output)\n\(logText)")
        #expect(status != 0, "the job must fail")
        #expect(ms < 10_000, "the job took \(ms) ms to stop")
        #expect(logText.contains("rank 1") && logText.contains("signal 9"), "\(logText)")
        // The checkpoint is intact: it loads, and training resumes from it in one process.
        _ = try Self.weights(ck)
        try Self.train(ranks: 1, steps: 2, checkpoint: ck, resume: true)
    }
}
