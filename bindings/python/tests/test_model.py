"""Configs, presets and models."""

import pytest

import trmdis

from helpers import tiny_config

PARAMETER_COUNTS = {
    "sudoku-mlp": 5_028_866,
    "sudoku-att": 6_828_034,
    "maze-att": 6_822_914,
    "arc-att": 6_829_058,
    "dis-compact": 860_674,
}


@pytest.mark.parametrize("name,count", PARAMETER_COUNTS.items())
def test_preset_parameter_counts(name, count):
    with trmdis.Model(name, seed=0) as model:
        assert model.parameter_count == count
        assert model.config == trmdis.ModelConfig.preset(name)


def test_every_preset_loads():
    for name in trmdis.PRESETS:
        config = trmdis.ModelConfig.preset(name)
        assert config.vocab_size >= 2 and config.seq_len >= 1


def test_default_config_is_sudoku_att():
    assert trmdis.ModelConfig() == trmdis.ModelConfig.default() == trmdis.ModelConfig.preset("sudoku-att")
    config = trmdis.ModelConfig()
    assert (config.vocab_size, config.seq_len, config.hidden_size, config.num_heads) == (11, 81, 512, 8)
    assert config.mixer is trmdis.Mixer.ATTENTION and config.pos_encoding is trmdis.PosEncoding.ROPE


def test_preset_fields():
    mlp = trmdis.ModelConfig.preset("sudoku-mlp")
    assert mlp.mixer is trmdis.Mixer.MLP_T and mlp.pos_encoding is trmdis.PosEncoding.NONE
    dis = trmdis.ModelConfig.preset("dis-compact")
    assert dis.time_embedding and (dis.h_cycles, dis.l_cycles, dis.supervision_steps) == (1, 2, 6)
    assert dis.hidden_size == 256 and dis.num_layers == 1


def test_config_round_trip():
    config = tiny_config(mixer=trmdis.Mixer.MLP_T, pos_encoding=trmdis.PosEncoding.LEARNED, expansion=2.0,
                         time_embedding=True, puzzle_emb_ndim=24)
    with trmdis.Model(config, seed=3) as model:
        assert model.config == config
        assert model.parameter_count > 0


def test_model_context_and_close():
    model = trmdis.Model(tiny_config())
    assert not model.closed and "parameters" in repr(model)
    model.close()
    model.close()  # idempotent
    assert model.closed
    with pytest.raises(trmdis.InvalidArgumentError, match="closed"):
        model.parameter_count
