"""Writes sudoku-official/: a tiny dataset in exactly the layout of the reference's
dataset/build_sudoku_dataset.py (TinyRecursiveModels), to test that such directories load.

Train: one puzzle with --num-aug 2 (one group of 3 puzzles); test: two puzzles, not augmented.
The files are written the way the builder writes them: uint8 token arrays (digit + 1), int32 index
arrays, np.save, and json.dump of the metadata model (keys in declaration order, float mean).
Run from this directory: python3 make_sudoku_fixture.py
"""
import json
import os

import numpy as np

PUZZLES = {
    "train": [
        ("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79",
         "534678912672195348198342567859761423426853791713924856961537284287419635345286179"),
    ],
    "test": [
        ("8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4..",
         "812753649943682175675491283154237896369845721287169534521974368438526917796318452"),
        ("..9748...7.........2.1.9.....7...24..64.1.59..98...3.....8.3.2.........6...2759..",
         "519748632783652419426139875357986241264317598198524367975863124832491756641275983"),
    ],
}


def check(q, a):
    g = np.frombuffer(a.encode(), dtype=np.uint8).reshape(9, 9) - ord("0")
    for i in range(9):
        assert sorted(g[i]) == list(range(1, 10)) and sorted(g[:, i]) == list(range(1, 10))
        b = g[3 * (i // 3):3 * (i // 3) + 3, 3 * (i % 3):3 * (i % 3) + 3].reshape(-1)
        assert sorted(b) == list(range(1, 10))
    assert all(c == "." or c == d for c, d in zip(q, a))


def shuffle_sudoku(board, solution):
    # The reference's augmentation (build_sudoku_dataset.py).
    digit_map = np.pad(np.random.permutation(np.arange(1, 10)), (1, 0))
    transpose_flag = np.random.rand() < 0.5
    bands = np.random.permutation(3)
    row_perm = np.concatenate([b * 3 + np.random.permutation(3) for b in bands])
    stacks = np.random.permutation(3)
    col_perm = np.concatenate([s * 3 + np.random.permutation(3) for s in stacks])
    mapping = np.array([row_perm[i // 9] * 9 + col_perm[i % 9] for i in range(81)])

    def apply_transformation(x):
        if transpose_flag:
            x = x.T
        new_board = x.flatten()[mapping].reshape(9, 9).copy()
        return digit_map[new_board]

    return apply_transformation(board), apply_transformation(solution)


def convert_subset(set_name, num_aug, out_dir):
    inputs, labels = [], []
    for q, a in PUZZLES[set_name]:
        check(q, a)
        inputs.append(np.frombuffer(q.replace(".", "0").encode(), dtype=np.uint8).reshape(9, 9) - ord("0"))
        labels.append(np.frombuffer(a.encode(), dtype=np.uint8).reshape(9, 9) - ord("0"))
    results = {k: [] for k in ["inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"]}
    puzzle_id = 0
    example_id = 0
    results["puzzle_indices"].append(0)
    results["group_indices"].append(0)
    for orig_inp, orig_out in zip(inputs, labels):
        for aug_idx in range(1 + num_aug):
            if aug_idx == 0:
                inp, out = orig_inp, orig_out
            else:
                inp, out = shuffle_sudoku(orig_inp, orig_out)
            results["inputs"].append(inp)
            results["labels"].append(out)
            example_id += 1
            puzzle_id += 1
            results["puzzle_indices"].append(example_id)
            results["puzzle_identifiers"].append(0)
        results["group_indices"].append(puzzle_id)

    def _seq_to_numpy(seq):
        arr = np.concatenate(seq).reshape(len(seq), -1)
        assert np.all((arr >= 0) & (arr <= 9))
        return arr + 1

    results = {
        "inputs": _seq_to_numpy(results["inputs"]),
        "labels": _seq_to_numpy(results["labels"]),
        "group_indices": np.array(results["group_indices"], dtype=np.int32),
        "puzzle_indices": np.array(results["puzzle_indices"], dtype=np.int32),
        "puzzle_identifiers": np.array(results["puzzle_identifiers"], dtype=np.int32),
    }
    # PuzzleDatasetMetadata(...).model_dump(): declaration order, mean_puzzle_examples coerced to float.
    metadata = {
        "pad_id": 0,
        "ignore_label_id": 0,
        "blank_identifier_id": 0,
        "vocab_size": 10 + 1,
        "seq_len": 81,
        "num_puzzle_identifiers": 1,
        "total_groups": len(results["group_indices"]) - 1,
        "mean_puzzle_examples": 1.0,
        "total_puzzles": len(results["group_indices"]) - 1,
        "sets": ["all"],
    }
    save_dir = os.path.join(out_dir, set_name)
    os.makedirs(save_dir, exist_ok=True)
    with open(os.path.join(save_dir, "dataset.json"), "w") as f:
        json.dump(metadata, f)
    for k, v in results.items():
        np.save(os.path.join(save_dir, f"all__{k}.npy"), v)
    with open(os.path.join(out_dir, "identifiers.json"), "w") as f:
        json.dump(["<blank>"], f)


if __name__ == "__main__":
    np.random.seed(0)
    convert_subset("train", 2, "sudoku-official")
    convert_subset("test", 0, "sudoku-official")
