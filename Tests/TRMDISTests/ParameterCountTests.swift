import Testing
import TRMDIS

/// Trainable parameter counts equal the reference's (docs/model.md: The recursion): puzzle embeddings, H_init and
/// L_init are buffers and are not counted.
@Suite struct ParameterCountTests {
    @Test func presetsMatchTheReference() throws {
        #expect(ParameterLayout(Preset.sudokuMLP.config).total == 5_028_866)
        #expect(ParameterLayout(Preset.sudokuAtt.config).total == 6_828_034)
        #expect(ParameterLayout(Preset.mazeAtt.config).total == 6_822_914)
        #expect(ParameterLayout(Preset.arcAtt.config).total == 6_829_058)
    }

    @Test func mlpVariantsAt30x30() throws {
        var maze = Preset.mazeAtt.config
        maze.mixer = .mlpT
        maze.posEncoding = .none
        #expect(ParameterLayout(maze).total == 18_795_522)
        var arc = Preset.arcAtt.config
        arc.mixer = .mlpT
        #expect(ParameterLayout(arc).total == 18_801_666)
    }

    /// dis-compact: embed 12·256 + lm_head 12·256 + q_head 514 + time 8·256 + one block
    /// (qkv 196,608 + o 65,536 + gate_up 393,216 + down 196,608) = 860,674 (the paper's "0.8M").
    @Test func disPresets() throws {
        #expect(ParameterLayout(Preset.disCompact.config).total == 860_674)
        // dis-medium: arc-att's 6,829,058 plus the time table 8·512.
        #expect(ParameterLayout(Preset.disMedium.config).total == 6_829_058 + 8 * 512)
    }

    @Test func namesFollowThePyTorchStateDict() throws {
        let names = ParameterLayout(Preset.sudokuMLP.config).specs.map(\.name)
        #expect(names.contains("embed_tokens.embedding_weight"))
        #expect(names.contains("L_level.layers.1.mlp_t.gate_up_proj.weight"))
        #expect(names.contains("L_level.layers.0.mlp.down_proj.weight"))
        #expect(!names.contains { $0.contains("puzzle_emb") || $0.contains("H_init") })
    }
}
