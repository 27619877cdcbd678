#!/usr/bin/env python3
"""Writes Tests/TRMDISTests/Fixtures/official/: a checkpoint as the official TRM/DIS code saves it, made by
real PyTorch, and the logits PyTorch computes for it, so that the engine's import (which reads it without
PyTorch) is checked against PyTorch in every `make test`.

    .venv-torch/bin/python bench/make_official_fixture.py      # needs torch and pyyaml (docs/pytorch.md)

What it writes:
- step_10: torch.save of the state dict with `_orig_mod.model.inner.` keys (torch.compile's), every
  tensor float32 except H_init / L_init, which the official code keeps in bfloat16; the DIS time table under
  the DIS code's name `timestep_embed.embedding_weight`.
- all_config.yaml: yaml.dump of a run configuration shaped like the official pretrain.py's.
- tokens.npy, puzzle_ids.npy and logits.npy: one supervision step (time index 1) from the initial carry of
  bench/torch_reference.py's model in float32, with H_init / L_init as stored (rounded to bfloat16).

The model is small (D 32, 2 heads, 2 layers, attention with RoPE, T 2, n 2, N_sup 4, seq_len 12, a 2-position
puzzle prefix) so the files stay a few tens of kilobytes; every tensor, the puzzle table and q_head included,
holds random values (zeros would hide a misplaced tensor). The float64 logits are printed as the yardstick:
the engine is held to 1e-4, about ten times float32's own distance from them.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "Tests" / "TRMDISTests" / "Fixtures" / "official"


def main() -> int:
    torch.manual_seed(7)
    c = ref.TRMConfig(vocab_size=9, seq_len=12, puzzle_emb_len=2, num_puzzle_identifiers=5, hidden_size=32,
                      num_heads=2, expansion=4.0, num_layers=2, h_cycles=2, l_cycles=2, supervision_steps=4,
                      time_embedding=True)
    model = ref.TRMModel(c)
    with torch.no_grad():
        # The initialisation's scales (larger weights make the recursion chaotic: float32 itself would then
        # differ from float64 by 1e-2); the tensors that start at zero or a constant get random values too.
        for name in ("puzzle_emb.weights", "q_head.weight", "q_head.bias"):
            t = model.state_dict()[name]
            t.copy_(torch.randn_like(t) * 0.1)
        model.H_init.copy_(model.H_init.bfloat16().float())
        model.L_init.copy_(model.L_init.bfloat16().float())
    state = {}
    for name, t in model.state_dict().items():
        t = t.detach().clone()
        state["_orig_mod.model.inner." + name] = t.bfloat16() if name in ("H_init", "L_init") else t
    OUT.mkdir(parents=True, exist_ok=True)
    torch.save(state, OUT / "step_10")
    run = {
        "arch": {"H_cycles": c.h_cycles, "H_layers": 0, "L_cycles": c.l_cycles, "L_layers": c.num_layers,
                 "expansion": c.expansion, "forward_dtype": "bfloat16", "halt_exploration_prob": 0.1,
                 "halt_max_steps": c.supervision_steps, "hidden_size": c.hidden_size,
                 "loss": {"loss_type": "stablemax_cross_entropy", "name": "losses@ACTLossHead"},
                 "mlp_t": False, "name": "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
                 "no_ACT_continue": True, "num_heads": c.num_heads, "pos_encodings": "rope",
                 "puzzle_emb_len": c.puzzle_emb_len, "puzzle_emb_ndim": c.hidden_size},
        "beta1": 0.9, "beta2": 0.95, "checkpoint_every_eval": True,
        "checkpoint_path": "checkpoints/Fixture ACT-torch/a run name long enough that PyYAML folds this plain "
                           "scalar onto a second line",
        "data_paths": ["data/fixture-12"], "data_paths_test": [], "ema": True, "ema_rate": 0.999,
        "epochs": 10, "eval_interval": 5, "evaluators": [], "global_batch_size": 8, "lr": 1e-4,
        "lr_min_ratio": 1.0, "lr_warmup_steps": 2, "project_name": "Fixture ACT-torch", "puzzle_emb_lr": 1e-4,
        "puzzle_emb_weight_decay": 1.0, "run_name": "fixture", "seed": 0, "weight_decay": 1.0,
        "load_checkpoint": None,
    }
    with open(OUT / "all_config.yaml", "w") as f:
        yaml.dump(run, f)
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, c.vocab_size, (3, c.seq_len)).astype(np.int32)
    ids = np.array([0, 4, 2], dtype=np.int32)
    with torch.no_grad():
        carry = model.initial_carry(3)
        _, logits, _ = model(carry, torch.from_numpy(tokens).long(), torch.from_numpy(ids).long(), time_step=1)
    np.save(OUT / "tokens.npy", tokens)
    np.save(OUT / "puzzle_ids.npy", ids)
    np.save(OUT / "logits.npy", logits.float().numpy())
    exact = ref.TRMModel(c).double()
    exact.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    with torch.no_grad():
        _, logits64, _ = exact(exact.initial_carry(3), torch.from_numpy(tokens).long(), torch.from_numpy(ids).long(),
                               time_step=1)
    print(f"float32 vs float64 logits: {(logits.double() - logits64).abs().max().item():.2e}")
    print(f"wrote {OUT}: {sorted(p.name for p in OUT.iterdir())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
