#!/usr/bin/env bash
# The README's first command: a DIS model this project trained solves unseen 6x6 Sudokus step by step,
# then a fresh model trains for about two minutes with a live progress line.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s cli >/dev/null
bin=build/bin/trmdis
data=build/demo/sudoku6-easy
checkpoint=demo/sudoku6-dis.safetensors
# The same seeded dataset the checkpoint was trained on (6x6, 16-24 clues); its test split never appears in
# training.
[ -f "$data/test/dataset.json" ] || "$bin" data sudoku --size 6 --min-clues 16 --max-clues 24 --spread-clues \
    --train 20000 --test 1000 --seed 2 --out "$data" >/dev/null

if [ -f "$checkpoint" ]; then
  echo "== 1. A DIS model trained by this project ($checkpoint, see docs/training.md)"
  echo "==    on 6x6 Sudokus it has never seen, 6 supervision steps of 3 network calls each"
  "$bin" solve --checkpoint "$checkpoint" --data "$data" --index 7
  "$bin" eval --checkpoint "$checkpoint" --data "$data" --limit 1000
else
  echo "== 1. (no trained checkpoint at $checkpoint yet: docs/training.md says why)"
fi

echo
echo "== 2. A fresh DIS model, trained for ${DEMO_MINUTES:-2} minutes on this machine"
# The recipe that made the checkpoint (docs/training.md), with a fresh seed.
"$bin" train --data "$data" --preset sudoku-att --hidden 128 --heads 4 --layers 2 --T 1 --n 2 \
    --supervision-steps 6 --puzzle-emb-len 0 --method dis --batch 32 --lr 1e-3 --warmup 100 \
    --weight-decay 0.1 --seed 1 --minutes "${DEMO_MINUTES:-2}" --eval-every 25 --eval-limit 200 \
    --checkpoint build/demo/fresh
echo
echo "== The fresh model solving a held-out puzzle, step by step"
"$bin" solve --checkpoint build/demo/fresh/model.safetensors --data "$data" --index 7
