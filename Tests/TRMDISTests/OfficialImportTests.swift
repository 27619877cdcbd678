import FoundationEssentials
import Testing
@testable import TRMDIS
#if canImport(Glibc)
import Glibc
#endif

/// Checkpoints of the official PyTorch code (docs/pytorch.md). Fixtures/official was written by real PyTorch
/// and PyYAML (bench/make_official_fixture.py); pytest's test_official.py checks its logits against PyTorch's.
@Suite struct OfficialImportTests {
    let fixture = fixturePath("official")

    @Test func readsPyYAMLOutput() throws {
        let text = String(decoding: try readFile(fixture + "/all_config.yaml"), as: UTF8.self)
        let yaml = try YAMLSubset.parse(text, file: "all_config.yaml")
        #expect(yaml["arch"]?["H_cycles"] == .integer(2))
        #expect(yaml["arch"]?["expansion"] == .number(4))
        #expect(yaml["arch"]?["mlp_t"] == .bool(false))
        #expect(yaml["arch"]?["loss"]?["name"] == .string("losses@ACTLossHead"))
        #expect(yaml["data_paths"] == .array([.string("data/fixture-12")]))
        #expect(yaml["data_paths_test"] == .array([]))
        #expect(yaml["load_checkpoint"] == .null)
        #expect(yaml["lr"] == .number(0.0001))
        // PyYAML folds a long plain scalar onto the next, more indented line.
        #expect(yaml["checkpoint_path"] == .string(
            "checkpoints/Fixture ACT-torch/a run name long enough that PyYAML folds this plain scalar onto a second line"))
    }

    @Test func yamlSubsetForms() throws {
        let text = """
            # a comment
            a: 'it''s'   # trailing comment
            b: "x\\ty"
            c: [1, 2.5, true]
            d:
              - name: e
                weight: 0.5
              - f
            g: {}
            """
        let v = try YAMLSubset.parse(text, file: "t.yaml")
        #expect(v["a"] == .string("it's"))
        #expect(v["b"] == .string("x\ty"))
        #expect(v["c"] == .array([.integer(1), .number(2.5), .bool(true)]))
        #expect(v["d"] == .array([.object([("name", .string("e")), ("weight", .number(0.5))]), .string("f")]))
        #expect(v["g"] == .object([]))
        for (bad, fragment) in [("a: 1\na: 2", "appears twice"), ("a: &x 1", "not supported"), ("a: |\n  text", "not supported"),
                                ("a:\n\t- 1", "tab"), ("a: 'open", "unterminated")] {
            #expect(throws: TRMError.self) { try YAMLSubset.parse(bad, file: "bad.yaml") }
            do { _ = try YAMLSubset.parse(bad, file: "bad.yaml") } catch {
                #expect("\(error)".contains(fragment), "\(bad): \(error)")
            }
        }
    }

    @Test func readsARealTorchSave() throws {
        let raw = try OfficialCheckpoint.readRaw(fixture + "/step_10")
        let names = raw.tensors.map(\.name)
        #expect(names.count == 16)
        #expect(names.allSatisfy { $0.hasPrefix("_orig_mod.model.inner.") })
        #expect(raw.tensors.first { $0.name.hasSuffix("H_init") }?.tensor.dtype == .bf16)
        #expect(raw.tensors.first { $0.name.hasSuffix("qkv_proj.weight") }?.tensor.shape == [96, 32])
        var notes: [String] = []
        let state = try OfficialCheckpoint.read(fixture + "/step_10", notes: &notes)
        #expect(state.tensors.contains { $0.name == "timestep_embed.embedding_weight" })
        #expect(notes.contains { $0.contains("from BF16 to float32") })

        let (model, importNotes) = try Model.importOfficial(checkpoint: fixture + "/step_10", seqLen: 12)
        let c = model.config
        #expect((c.vocabSize, c.seqLen, c.hiddenSize, c.numHeads, c.numLayers) == (9, 12, 32, 2, 2))
        #expect((c.hCycles, c.lCycles, c.supervisionSteps, c.puzzleEmbLen, c.numPuzzleIdentifiers) == (2, 2, 4, 2, 5))
        #expect(c.timeEmbedding && c.mixer == .attention && c.posEncoding == .rope)
        #expect(importNotes.contains { $0.contains("bfloat16") })
        #expect(model.inferenceProtocol.method == .dis)
    }

    @Test func exportThenImportIsBitExact() throws {
        let dir = dataTempDirectory("official")
        defer { removeTree(dir) }
        var config = Preset.disCompact.config
        config.seqLen = 20
        config.mixer = .mlpT
        config.posEncoding = .none
        let model = try Model(config: config, seed: 5)
        try model.exportOfficial(to: dir + "/step_3")
        #expect(throws: TRMError.self) { try model.exportOfficial(to: dir + "/step_4") }  // all_config.yaml exists
        try model.exportOfficial(to: dir + "/step_3.safetensors", config: dir + "/other.yaml")
        #expect(try readFile(dir + "/step_3").prefix(4) == [0x50, 0x4B, 0x03, 0x04])  // a torch.save archive
        for (file, yaml) in [("step_3", "all_config.yaml"), ("step_3.safetensors", "other.yaml")] {
            let (back, _) = try Model.importOfficial(checkpoint: dir + "/" + file, config: dir + "/" + yaml)
            #expect(back.config == config)
            for (a, b) in zip(model.namedTensors, back.namedTensors) {
                #expect(a.name == b.name && Array(a.values) == Array(b.values))
            }
        }
        #expect(ZipWriter.crc32(Array("123456789".utf8)) == 0xCBF4_3926)  // the standard check value
    }

    @Test func halfPrecisionValues() {
        #expect(OfficialCheckpoint.halfToFloat(0x3C00) == 1)
        #expect(OfficialCheckpoint.halfToFloat(0xC000) == -2)
        #expect(OfficialCheckpoint.halfToFloat(0x0001) == 0x1p-24)  // the smallest subnormal
        #expect(OfficialCheckpoint.halfToFloat(0x7BFF) == 65504)
        #expect(OfficialCheckpoint.halfToFloat(0x7C00) == .infinity)
        #expect(OfficialCheckpoint.halfToFloat(0xFE00).isNaN)
        #expect(OfficialCheckpoint.halfToFloat(0x8000).sign == .minus)
    }

    /// Every prefix of the real archive and a byte flipped at many places: an error, never a trap or a hang.
    @Test func damagedArchivesAreRefused() throws {
        let bytes = try readFile(fixture + "/step_10")
        let dir = dataTempDirectory("damaged")
        defer { removeTree(dir) }
        let path = dir + "/step_1"
        var refused = 0
        let cuts = stride(from: 0, to: bytes.count, by: 997).map { $0 } + [bytes.count - 1, bytes.count - 22]
        for cut in cuts {
            try writeFileAtomically(path, Array(bytes[..<cut]))
            if (try? OfficialCheckpoint.readRaw(path)) == nil { refused += 1 }
        }
        #expect(refused == cuts.count)
        var rng = RNG(seed: 1)
        for _ in 0..<300 {
            var damaged = bytes
            let at = Int(rng.next() % UInt64(bytes.count))
            damaged[at] ^= UInt8(1 + rng.next() % 255)
            try writeFileAtomically(path, damaged)
            _ = try? OfficialCheckpoint.readRaw(path)  // any outcome but a crash
        }
    }
}
