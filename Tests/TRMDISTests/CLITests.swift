import Testing
@testable import TRMDIS
@testable import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// The command line with hostile numbers: each is refused with a message and an ordinary exit status
/// (1, or 64 for a usage error), never a crash (a shell status of 128 + signal) or a run without end.
@Suite(.serialized) struct CLITests {
    static let cli = MPITests.bin + "/trmdis"
    static let work = "/tmp/trmdis-cli-test-\(getpid())"

    static let data: String = {
        let dir = work + "/data"
        MPITests.sh("\(cli) data sudoku --size 4 --train 40 --test 8 --seed 1 --threads 1 --out \(dir)")
        return dir
    }()

    static let checkpoint: String = {
        let dir = work + "/ckpt"
        MPITests.sh("\(cli) train --data \(data) --preset dis-compact --hidden 16 --heads 2 --layers 1 --batch 8 --steps 1 "
            + "--threads 1 --checkpoint \(dir)")
        return dir + "/model.safetensors"
    }()

    @Test(arguments: [
        "train --epochs nan", "train --epochs inf", "train --epochs 1e300", "train --epochs -1",
        "train --steps 4611686018427387904", "train --steps 0", "train --minutes nan", "train --minutes -3",
        "train --threads 100000", "train --threads 0", "train --eval-limit -1",
        "train --hidden -3", "train --heads 3", "train --vocab 9 --steps 1", "train --seq-len 5 --steps 1", "train --recipe fast",
    ])
    func trainRefuses(_ flags: String) {
        #expect(access(CLITests.data + "/train/dataset.json", R_OK) == 0, "the test dataset was not built")
        let (status, output) = MPITests.sh("timeout 60 \(CLITests.cli) \(flags.replacingPrefix("train", with: "train --data \(CLITests.data) --threads 1"))")
        #expect(status >= 1 && status < 128 && status != 124, "status \(status): \(output)")
        let flag = flags.split(separator: " ")[1]
        #expect(output.contains("Error") && output.contains(flag), "no message naming \(flag): \(output)")
    }

    @Test(arguments: ["--steps=-1", "--steps 0", "--steps 5000", "--limit=-1", "--limit 0", "--threads 100000", "--batch 0"])
    func evalRefuses(_ flags: String) {
        #expect(access(CLITests.checkpoint, R_OK) == 0, "the test checkpoint was not written")
        let (status, output) = MPITests.sh("timeout 60 \(CLITests.cli) eval --checkpoint \(CLITests.checkpoint) --data \(CLITests.data) \(flags)")
        #expect(status >= 1 && status < 128 && status != 124, "status \(status): \(output)")
        #expect(output.contains("Error") && !output.contains("-1 examples"), "\(output)")
    }
}

extension String {
    /// The string with its leading `prefix` replaced (unchanged if it does not start with it).
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
