"""Official TRM/DIS checkpoints in one step, without PyTorch: Model.from_official / to_official,
state_dict / from_state_dict, and `trmdis import-official` / `export-official`."""

import json
import subprocess

import numpy as np
import pytest

import trmdis
from helpers import REPO, tiny_config
from official_files import (PREFIX, from_bfloat16_bits, official_config, to_bfloat16_bits, write_safetensors,
                            write_torch_save)

CLI = REPO / "build" / "bin" / "trmdis"
FIXTURE = REPO / "Tests" / "TRMDISTests" / "Fixtures" / "official"


def trained_like(config, seed=3):
    """A model whose every tensor (puzzle table and q head included) holds distinct random values."""
    model = trmdis.Model(config, seed=seed)
    rng = np.random.default_rng(seed)
    state = {k: (rng.standard_normal(v.shape) * 0.2).astype(np.float32) for k, v in model.state_dict().items()}
    model.close()
    return trmdis.Model.from_state_dict(config, state)


def logits(model, seed=0, n=3):
    c = model.config
    x = np.random.default_rng(seed).integers(0, c.vocab_size, (n, c.seq_len))
    return model.predict(x, puzzle_ids=np.arange(n) % max(c.num_puzzle_identifiers, 1), logits=True).logits


def official_state(model):
    return {PREFIX + k: v for k, v in model.state_dict().items()}


CONFIGS = {
    "attention-dis": tiny_config(time_embedding=True),
    "mlp_t": tiny_config(mixer=trmdis.Mixer.MLP_T, pos_encoding=trmdis.PosEncoding.NONE),
    "learned": tiny_config(pos_encoding=trmdis.PosEncoding.LEARNED, puzzle_emb_len=0, puzzle_emb_ndim=0,
                           num_puzzle_identifiers=1),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("container", ["safetensors", "torch"])
def test_float32_round_trip_gives_the_same_logits(tmp_path, name, container):
    config = CONFIGS[name]
    model = trained_like(config)
    checkpoint = tmp_path / "step_10"
    (write_safetensors if container == "safetensors" else write_torch_save)(checkpoint, official_state(model))
    (tmp_path / "all_config.yaml").write_text(official_config(config))
    seq = config.seq_len if config.pos_encoding == trmdis.PosEncoding.ROPE and config.mixer == trmdis.Mixer.ATTENTION else None
    imported = trmdis.Model.from_official(checkpoint, seq_len=seq)
    assert imported.config == model.config
    for key, value in model.state_dict().items():
        assert np.array_equal(imported.state_dict()[key], value), key
    assert np.array_equal(logits(imported), logits(model))
    # Inference follows the documented rule for files without a training record: a time table means DIS.
    assert imported.protocol.method == ("dis" if config.time_embedding else "trm")


@pytest.mark.parametrize("container", ["safetensors", "torch"])
def test_bfloat16_checkpoint_equals_the_rounded_weights(tmp_path, container):
    config = CONFIGS["attention-dis"]
    model = trained_like(config)
    state = official_state(model)
    (write_safetensors if container == "safetensors" else write_torch_save)(tmp_path / "step_10", state, dtype="BF16")
    yaml = tmp_path / "run.yaml"
    yaml.write_text(official_config(config))
    imported = trmdis.Model.from_official(tmp_path / "step_10", config_yaml=yaml, seq_len=config.seq_len)
    rounded = trmdis.Model.from_state_dict(config, {k: from_bfloat16_bits(to_bfloat16_bits(v)) for k, v in state.items()})
    assert np.array_equal(logits(imported), logits(rounded))
    # bfloat16 keeps 8 bits of mantissa: one step's logits move, but little.
    tokens = np.random.default_rng(1).integers(0, config.vocab_size, (2, config.seq_len))
    first = [trmdis.Runner(m, 2).step(tokens, np.zeros(2, np.int32))[0] for m in (imported, model)]
    assert 0 < np.abs(first[0] - first[1]).max() < 0.1


def test_float16_and_a_strided_tensor(tmp_path):
    config = CONFIGS["mlp_t"]
    model = trained_like(config)
    state = official_state(model)
    write_torch_save(tmp_path / "step_1", state, dtype="F16", transpose_first=True)
    (tmp_path / "all_config.yaml").write_text(official_config(config))
    imported = trmdis.Model.from_official(tmp_path / "step_1")
    for key, value in model.state_dict().items():
        assert np.array_equal(imported.state_dict()[key], value.astype(np.float16).astype(np.float32)), key


@pytest.mark.parametrize("name", ["step_0", "step_0.safetensors"])  # a torch.save archive, or safetensors
def test_export_then_import_is_exact(tmp_path, name):
    model = trained_like(CONFIGS["attention-dis"])
    model.to_official(tmp_path / name)
    head = (tmp_path / name).read_bytes()[:4]
    assert (head == b"PK\x03\x04") == (name == "step_0")
    text = (tmp_path / "all_config.yaml").read_text()
    assert "H_cycles: 2" in text and "L_cycles: 3" in text and "halt_max_steps: 4" in text
    with pytest.raises(trmdis.TRMIOError, match="exists"):  # never overwrites a run's config by default
        model.to_official(tmp_path / "step_1")
    back = trmdis.Model.from_official(tmp_path / name, seq_len=6)
    assert back.config == model.config
    assert np.array_equal(logits(back), logits(model))


def test_seq_len_from_the_runs_dataset(tmp_path):
    """An attention model with RoPE: seq_len from data_paths, found from the checkpoint's folder upwards
    (checkpoints/<project>/<run>/ beside data/, as official runs lay them out)."""
    config = CONFIGS["attention-dis"]
    model = trained_like(config)
    run = tmp_path / "checkpoints" / "Project ACT-torch" / "run"
    run.mkdir(parents=True)
    write_safetensors(run / "step_5", official_state(model))
    (run / "all_config.yaml").write_text(official_config(config).replace("data/sudoku-extreme-1k-aug-1000", "data/tiny"))
    (tmp_path / "data" / "tiny" / "train").mkdir(parents=True)
    meta = dict(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=config.vocab_size, seq_len=6,
                num_puzzle_identifiers=3, total_groups=1, mean_puzzle_examples=1.0, total_puzzles=1, sets=["all"])
    (tmp_path / "data" / "tiny" / "train" / "dataset.json").write_text(json.dumps(meta))
    assert trmdis.Model.from_official(run / "step_5").config.seq_len == 6
    meta["vocab_size"] = 9
    (tmp_path / "data" / "tiny" / "train" / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(trmdis.FormatError, match="vocab_size 9"):
        trmdis.Model.from_official(run / "step_5")


def test_what_the_engine_cannot_represent_is_refused(tmp_path):
    config = CONFIGS["attention-dis"]
    model = trained_like(config)
    checkpoint = tmp_path / "step_10"
    write_safetensors(checkpoint, official_state(model))
    with pytest.raises(trmdis.TRMIOError, match="all_config.yaml"):  # no silent T/n defaults
        trmdis.Model.from_official(checkpoint, seq_len=6)
    base = official_config(config)
    variants = {  # all_config.yaml text -> what the message says
        base.replace("  H_cycles: 2\n", ""): "H_cycles is missing",
        base.replace("name: recursive_reasoning.trm@", "name: hrm.hrm_act_v1@"): "HRM",
        base.replace("hidden_size: 16", "hidden_size: 32"): "hidden_size is 32",
        base.replace("halt_max_steps: 4", "halt_max_steps: 6"): "time table has 6 rows",
        base.replace("mlp_t: false", "mlp_t: true"): "mlp_t is true",
        base.replace("arch:", "arch: &anchor"): "not supported",
    }
    for text, message in variants.items():
        (tmp_path / "all_config.yaml").write_text(text)
        with pytest.raises(trmdis.FormatError, match=message):
            trmdis.Model.from_official(checkpoint, seq_len=6)
    (tmp_path / "all_config.yaml").write_text(base)
    with pytest.raises(trmdis.InvalidArgumentError, match="seq_len"):  # attention + RoPE: not in the weights
        trmdis.Model.from_official(checkpoint)
    extra = dict(official_state(model), **{PREFIX + "H_level.layers.0.mlp.down_proj.weight": np.zeros((4, 4), np.float32)})
    write_safetensors(checkpoint, extra)
    with pytest.raises(trmdis.FormatError, match="unexpected tensor 'H_level"):
        trmdis.Model.from_official(checkpoint, seq_len=6)


def test_a_pickle_that_calls_anything_else_is_refused(tmp_path):
    import pickle
    import zipfile

    checkpoint = tmp_path / "step_1"
    with zipfile.ZipFile(checkpoint, "w") as z:
        z.writestr("step_1/data.pkl", pickle.dumps({"x": print}, protocol=2))
    (tmp_path / "all_config.yaml").write_text(official_config(CONFIGS["mlp_t"]))
    with pytest.raises(trmdis.FormatError, match="print; only tensors"):
        trmdis.Model.from_official(checkpoint)


def test_state_dict_round_trip_and_checks():
    config = CONFIGS["attention-dis"]
    model = trained_like(config)
    state = model.state_dict()
    assert list(state)[:5] == ["embed_tokens.embedding_weight", "lm_head.weight", "q_head.weight", "q_head.bias",
                               "timestep_embed.embedding_weight"]
    assert list(state)[-3:] == ["puzzle_emb.weights", "H_init", "L_init"]
    assert all(a.dtype == np.float32 for a in state.values())
    legacy = {("time_emb.embedding_weight" if k == "timestep_embed.embedding_weight" else k): v.astype(np.float64)
              for k, v in state.items()}
    again = trmdis.Model.from_state_dict(config, legacy)
    assert np.array_equal(logits(again), logits(model))
    with pytest.raises(trmdis.InvalidArgumentError, match="missing \\['H_init'\\]"):
        trmdis.Model.from_state_dict(config, {k: v for k, v in state.items() if k != "H_init"})
    with pytest.raises(trmdis.InvalidArgumentError, match="shape"):
        trmdis.Model.from_state_dict(config, dict(state, H_init=np.zeros(3, np.float32)))
    with pytest.raises(trmdis.InvalidArgumentError, match="not finite"):
        trmdis.Model.from_state_dict(config, dict(state, H_init=np.full(16, np.nan, np.float32)))
    with pytest.raises(trmdis.InvalidArgumentError, match="floating"):
        trmdis.Model.from_state_dict(config, dict(state, H_init=np.zeros(16, np.int32)))


def test_the_committed_torch_fixture_matches_pytorch():
    """A checkpoint written by real torch.save (bench/make_official_fixture.py) with the logits PyTorch computed
    for it: read here without PyTorch."""
    model = trmdis.Model.from_official(FIXTURE / "step_10", seq_len=12)
    tokens, ids = np.load(FIXTURE / "tokens.npy"), np.load(FIXTURE / "puzzle_ids.npy")
    expected = np.load(FIXTURE / "logits.npy")
    got, _q = trmdis.Runner(model, tokens.shape[0]).step(tokens, ids, time_step=1)
    assert np.abs(got - expected).max() < 1e-4, np.abs(got - expected).max()  # float32 vs float64: 1e-6


def test_cli_import_and_export(tmp_path):
    config = CONFIGS["mlp_t"]
    model = trained_like(config)
    write_torch_save(tmp_path / "step_7", official_state(model), dtype="BF16")
    (tmp_path / "all_config.yaml").write_text(official_config(config))
    out = tmp_path / "model.safetensors"
    result = subprocess.run([str(CLI), "import-official", str(tmp_path / "step_7"), "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "converted from BF16" in result.stdout and "mlp_t" in result.stdout
    assert trmdis.Model.load(out).config == config
    exported = tmp_path / "exported"
    exported.mkdir()
    result = subprocess.run([str(CLI), "export-official", str(out), "--out", str(exported / "step_0")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    back = trmdis.Model.from_official(exported / "step_0")
    assert np.array_equal(logits(back), logits(trmdis.Model.load(out)))
