import FoundationEssentials
import Testing
@testable import TRMDIS
@testable import TRMDISTasks
#if canImport(Glibc)
import Glibc
#endif

/// Crafted files, each small and made here, that once crashed, hung or misled the engine
/// (docs/engine.md, "Threat model and guarantees"). Every one must now be refused with an error that says
/// what is wrong, without trapping, hanging or reading what it should not.
@Suite struct HostileFileTests {
    func write(_ path: String, _ bytes: [UInt8]) {
        let f = fopen(path, "wb")!
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }

    /// A safetensors file with `header` as its JSON header and `data` after it.
    func safetensors(_ header: String, data: [UInt8] = []) -> [UInt8] {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var length = UInt64(h.count).littleEndian
        return withUnsafeBytes(of: &length) { Array($0) } + h + data
    }

    func expectFormat(_ body: () throws(TRMError) -> Void, _ fragment: String) {
        do {
            try body()
            Issue.record("accepted; expected a format error containing \"\(fragment)\"")
        } catch {
            guard case .format(let m) = error, m.contains(fragment) else {
                Issue.record("\(error) is not a format error containing \"\(fragment)\"")
                return
            }
        }
    }

    @Test func safetensorsByteSizeOverflowIsRefused() {
        // [2^40, 2^22] float32 elements: 2^64 bytes, which overflowed Int and trapped.
        let file = safetensors(#"{"a":{"dtype":"F32","shape":[1099511627776,4194304],"data_offsets":[0,0]}}"#)
        expectFormat({ () throws(TRMError) in _ = try SafeTensors.decode(file, file: "f") }, "do not match its shape")
    }

    @Test func safetensorsDuplicateKeysAreRefused() {
        let tensor = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        let twice = safetensors(#"{"a":\#(tensor),"a":\#(tensor)}"#, data: [0, 0, 0, 0])
        expectFormat({ () throws(TRMError) in _ = try SafeTensors.decode(twice, file: "f") }, "duplicate key \"a\"")
        let escaped = safetensors(#"{"__metadata__":{"k":"1","\u006b":"2"},"a":\#(tensor)}"#, data: [0, 0, 0, 0])
        expectFormat({ () throws(TRMError) in _ = try SafeTensors.decode(escaped, file: "f") }, "duplicate key \"k\"")
    }

    @Test func safetensorsOverlapsGapsAndDeepNestingAreRefused() {
        let overlap = safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                  data: [UInt8](repeating: 0, count: 8))
        expectFormat({ () throws(TRMError) in _ = try SafeTensors.decode(overlap, file: "f") }, "overlaps")
        let gap = safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        expectFormat({ () throws(TRMError) in _ = try SafeTensors.decode(gap, file: "f") }, "a gap")
        let deep = safetensors("{\"__metadata__\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}")
        expectFormat({ () throws(TRMError) in _ = try SafeTensors.decode(deep, file: "f") }, "nesting deeper")
    }

    @Test func npyByteSizeOverflowIsRefused() throws {
        let dir = dataTempDirectory("npy-overflow")
        var header = "{'descr': '<i4', 'fortran_order': False, 'shape': (4611686018427387904,), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let n = header.utf8.count
        write(dir + "/a.npy", NpyArray.magic + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8))
        expectFormat({ () throws(TRMError) in _ = try NpyArray.read(path: dir + "/a.npy") }, "too large")
    }

    @Test func onlyRegularFilesAreRead() throws {
        let dir = dataTempDirectory("fifo")
        #expect(mkfifo(dir + "/model.safetensors", 0o600) == 0)
        #expect(symlink("/dev/zero", dir + "/zero.safetensors") == 0)
        for path in [dir + "/model.safetensors", dir + "/zero.safetensors", dir] {
            do {
                _ = try Model.load(from: path)
                Issue.record("\(path) was accepted")
            } catch {
                guard case .io(let m) = error, m.contains("not a regular file") else { Issue.record("\(error)"); continue }
            }
        }
        // A FIFO as dataset.json: refused at once, not a read that waits for a writer forever.
        try buildDataset(task: .sudoku(boxRows: 2, boxCols: 2), trainCount: 4, testCount: 2, seed: 1).write(directory: dir + "/d")
        unlink(dir + "/d/train/dataset.json")
        #expect(mkfifo(dir + "/d/train/dataset.json", 0o600) == 0)
        #expect(throws: TRMError.self) { try PuzzleSplit.load(directory: dir + "/d/train") }
    }

    @Test func aSparseFileIsJudgedByItsHeader() throws {
        // 2 GiB of holes whose header length is impossible: refused after reading 8 bytes.
        let path = dataTempDirectory("sparse") + "/big.safetensors"
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        #expect(ftruncate(fd, 1 << 31) == 0)
        var length = UInt64(1 << 40).littleEndian
        _ = pwrite(fd, &length, 8, 0)
        close(fd)
        expectFormat({ () throws(TRMError) in _ = try SafeTensors.load(path) }, "header length")
        unlink(path)
    }

    @Test func aConfigurationWithoutTensorsAllocatesNothing() throws {
        // 6.4 GB of weights asked for by a file of a few hundred bytes: "missing tensor" before any allocation.
        var c = Preset.sudokuAtt.config
        c.hiddenSize = 16_384
        c.numHeads = 64
        var st = SafeTensors()
        st.metadata = ["format": "pt", Model.configMetadataKey: c.jsonString]
        expectFormat({ () throws(TRMError) in _ = try Model.load(st, config: c, file: "f") }, "missing tensor")
    }

    /// A small trainer's checkpoint in a fresh directory.
    func checkpoint(_ method: TrainingConfig.Method, _ tag: String) throws -> (String, ExampleSet) {
        let examples = syntheticExamples(count: 16, seqLen: 12, seed: 2)
        var t = TrainingConfig(method: method)
        t.batchSize = 4
        let trainer = try Trainer(model: try Model(config: tinyConfig(timeEmbedding: method == .dis)), examples: examples, config: t)
        _ = try trainer.trainStep()
        let dir = dataTempDirectory("ckpt-\(tag)")
        try trainer.saveCheckpoint(directory: dir)
        return (dir, examples)
    }

    /// Rewrites the checkpoint's state file with `change` applied.
    func tamper(_ dir: String, _ change: (inout SafeTensors) -> Void) throws {
        var st = try SafeTensors.load(dir + "/" + Trainer.stateFile)
        change(&st)
        try FileSet.write(directory: dir, files: [(Trainer.modelFile, try readFile(dir + "/" + Trainer.modelFile)),
                                                  (Trainer.stateFile, st.encoded())])
    }

    func setFloats(_ st: inout SafeTensors, _ name: String, _ value: Float) {
        let i = st.tensors.firstIndex { $0.name == name }!
        let count = st.tensors[i].tensor.bytes.count / 4
        st.tensors[i].tensor.bytes = Array(repeating: value, count: count).withUnsafeBytes { Array($0) }
    }

    @Test(arguments: TrainingConfig.Method.allCases) func tamperedStatesAreRefused(method: TrainingConfig.Method) throws {
        let (dir, examples) = try checkpoint(method, "tamper-\(method.rawValue)")
        let resume = { () throws(TRMError) in _ = try Trainer.resume(directory: dir, examples: examples) }
        for key in ["optimizer_step", "optimizer_steps", "examples_seen"] {
            var original = ""
            try tamper(dir) { original = $0.metadata[key]!; $0.metadata[key] = String(Int64.max) }
            expectFormat(resume, "counter")
            try tamper(dir) { $0.metadata[key] = original }
        }
        try resume()
        try tamper(dir) { st in
            let i = st.tensors.firstIndex { $0.name == "rng.trainer" }!
            st.tensors[i].tensor.bytes = [UInt8](repeating: 0, count: 32)
        }
        expectFormat(resume, "all zero")
        let (fresh, _) = try checkpoint(method, "tamper2-\(method.rawValue)")
        let resumeFresh = { () throws(TRMError) in _ = try Trainer.resume(directory: fresh, examples: examples) }
        try tamper(fresh) { st in
            var p = try! JSONDecoder().decode(BatchSampler.Position.self, from: Data(st.metadata["sampler"]!.utf8))
            p.current = [0, 0, 0, 0]
            st.metadata["sampler"] = String(decoding: try! JSONEncoder().encode(p), as: UTF8.self)
        }
        expectFormat(resumeFresh, "all zero")
        let (moments, _) = try checkpoint(method, "tamper3-\(method.rawValue)")
        try tamper(moments) { self.setFloats(&$0, "optimizer.v", .nan) }
        expectFormat({ () throws(TRMError) in _ = try Trainer.resume(directory: moments, examples: examples) }, "not finite")
        if method == .trm {
            let (carry, _) = try checkpoint(method, "tamper4")
            try tamper(carry) { self.setFloats(&$0, "carry.y", .nan) }
            expectFormat({ () throws(TRMError) in _ = try Trainer.resume(directory: carry, examples: examples) }, "carry")
        }
    }

    @Test func hugeWeightsStopWithANumericalError() throws {
        let model = try Model(config: tinyConfig(), seed: 1)
        for i in 0..<model.parameterCount { model.weights[i] = 3e38 }
        let examples = syntheticExamples(count: 4, seqLen: 12, seed: 2)
        #expect {
            _ = try evaluate(model: model, examples: examples)
        } throws: { error in
            guard let e = error as? TRMError, case .numerical = e else { return false }
            return true
        }
    }

    @Test func checkpointsNeverFollowPlantedSymlinks() throws {
        let (dir, examples) = try checkpoint(.dis, "plant")
        let victim = dataTempDirectory("victim") + "/precious"
        write(victim, Array("keep me".utf8))
        // Every name the writer uses next, pointed at the victim: the old predictable temporary, the
        // visible names, the generation pointer.
        for name in [Trainer.modelFile, Trainer.stateFile, "\(Trainer.modelFile).tmp.\(getpid())"] {
            unlink(dir + "/" + name)
            #expect(symlink(victim, dir + "/" + name) == 0)
        }
        unlink(dir + "/.current")
        #expect(symlink(victim, dir + "/.current") == 0)
        let fresh = try Trainer(model: try Model(config: tinyConfig()), examples: examples, config: TrainingConfig(method: .dis))
        try fresh.saveCheckpoint(directory: dir)
        #expect(try readFile(victim) == Array("keep me".utf8))
        _ = try Trainer.resume(directory: dir, examples: examples)
        _ = try Model.load(from: dir + "/" + Trainer.modelFile)
    }

    @Test func aCheckpointIsOneUnitAndLeavesNoDebris() throws {
        let (dir, examples) = try checkpoint(.dis, "unit")
        let trainer = try Trainer.resume(directory: dir, examples: examples)
        // Debris of a writer killed mid-save (a dead process id), and a legacy plain pair.
        mkdir(dir + "/.gen-999999999-0123456789abcdef", 0o755)
        write(dir + "/.model.safetensors.tmp-999999999-0123456789abcdef", [1, 2, 3])
        for _ in 0..<3 {
            _ = try trainer.trainStep()
            try trainer.saveCheckpoint(directory: dir)
            let model = FileSet.readLink(dir + "/" + Trainer.modelFile), state = FileSet.readLink(dir + "/" + Trainer.stateFile)
            #expect(model == ".current/model.safetensors" && state == ".current/state.safetensors")
            let entries = directoryEntries(dir).sorted()
            #expect(entries.count == 4, "\(entries)")  // .current, one generation, the two names
            #expect(entries.filter { $0.hasPrefix(".gen-") }.count == 1)
        }
        // A legacy checkpoint (plain files) is adopted without ever showing a mixed pair.
        let legacy = dataTempDirectory("legacy")
        for name in [Trainer.modelFile, Trainer.stateFile] { write(legacy + "/" + name, try readFile(dir + "/" + name)) }
        let old = try Trainer.resume(directory: legacy, examples: examples)
        try old.saveCheckpoint(directory: legacy)
        #expect(FileSet.readLink(legacy + "/" + Trainer.stateFile) == ".current/state.safetensors")
        _ = try Trainer.resume(directory: legacy, examples: examples)
    }

    @Test func emptyPuzzlesAndGroupsAreRefused() throws {
        var split = try buildDataset(task: .sudoku(boxRows: 2, boxCols: 2), trainCount: 4, testCount: 2, seed: 1).train
        split.groupIndices.insert(0, at: 0)
        split.metadata.totalGroups += 1
        expectFormat({ () throws(TRMError) in try split.validate(name: "s") }, "group 0 is empty")
    }
}
