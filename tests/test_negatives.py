"""Negatives made from the training promoters keep their composition exactly (GUE's random chunks:
replace exactly what they should), move what they should, reach the training split only, and are
recorded in the checkpoint's data record."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from glmxai.allowlist import DATA_MODULES, build
from glmxai.data.datamodule import SyntheticDataModule
from glmxai.data.encoding import to_codes
from glmxai.data.negatives import Redraw, add_negatives, chunk_permutation, random_chunks
from glmxai.data.table import SequenceTable

from conftest import random_sequences


def _dinucleotides(codes: np.ndarray) -> np.ndarray:
    return np.bincount(codes[:-1].astype(int) * 5 + codes[1:], minlength=25)


def test_a_chunk_permutation_moves_whole_chunks_and_keeps_every_base():
    codes = to_codes(random_sequences(1, 305, seed=3)[0])  # 20 chunks of 15 and a partial one
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = chunk_permutation(codes, rng)
        chunks, moved = codes[:300].reshape(20, 15), out[:300].reshape(20, 15)
        changed = [k for k in range(20) if not np.array_equal(chunks[k], moved[k])]
        assert len(changed) == 12  # exactly the 12 picked chunks moved (random chunks never coincide)
        assert sorted(map(bytes, chunks[changed])) == sorted(map(bytes, moved[changed]))  # among themselves
        np.testing.assert_array_equal(out[300:], codes[300:])
        np.testing.assert_array_equal(np.bincount(out, minlength=5), np.bincount(codes, minlength=5))
    with pytest.raises(ValueError, match="permuted must be 2..20"):
        chunk_permutation(codes, rng, permuted=21)


def test_a_chunk_permutation_always_moves_the_named_slots_and_picks_the_rest_at_random():
    codes = to_codes(random_sequences(1, 300, seed=5)[0])
    rng = np.random.default_rng(1)
    chunks, counts = codes.reshape(20, 15), np.zeros(20)
    for _ in range(300):
        moved = chunk_permutation(codes, rng, moved=[16, 3]).reshape(20, 15)
        changed = [k for k in range(20) if not np.array_equal(chunks[k], moved[k])]
        assert len(changed) == 12 and {3, 16} <= set(changed)
        assert sorted(map(bytes, chunks[changed])) == sorted(map(bytes, moved[changed]))
        counts[changed] += 1
    others = np.delete(counts, [3, 16])
    assert counts[3] == counts[16] == 300
    assert scipy.stats.chisquare(others).pvalue > 1e-4  # the other 10 of 12 drawn uniformly from 18 slots
    for bad in ([20], [-1], [4, 4], list(range(13))):
        with pytest.raises(ValueError, match="moved must be distinct chunk slots"):
            chunk_permutation(codes, rng, moved=bad)


def test_random_chunks_replace_whole_chunks_but_the_last_with_uniform_bases():
    codes = to_codes(random_sequences(1, 300, seed=4)[0])
    rng = np.random.default_rng(0)
    replaced = []
    for _ in range(400):
        out = random_chunks(codes, rng).reshape(20, 15)
        changed = [k for k in range(20) if not np.array_equal(codes.reshape(20, 15)[k], out[k])]
        assert len(changed) == 12 and 19 not in changed  # 15 random bases never equal the parent's
        replaced.append(out[changed].ravel())
    bases = np.bincount(np.concatenate(replaced), minlength=5)
    assert bases[4] == 0
    assert scipy.stats.chisquare(bases[:4]).pvalue > 1e-4  # uniform over ACGT
    with pytest.raises(ValueError, match="replaced must be 1..19"):
        random_chunks(codes, rng, replaced=20)


@pytest.mark.parametrize("kind", ["chunk_permutation", "dinucleotide_shuffle"])
def test_added_negatives_keep_each_promoters_composition(kind):
    sequences = random_sequences(6, 300, seed=1)
    table = SequenceTable(sequences, np.array([1, 1, 1, 0, 0, 1]), source="train.csv")
    out = add_negatives(table, {"kind": kind, "per_promoter": 2, "seed": 0})
    assert len(out) == 6 + 8 and out.labels[:6].tolist() == table.labels.tolist() and not out.labels[6:].any()
    parents = [s for s, y in zip(sequences, table.labels) if y == 1]
    for i, made in enumerate(out.sequences[6:]):
        parent, copy = to_codes(parents[i // 2]), to_codes(made)
        assert not np.array_equal(parent, copy)
        np.testing.assert_array_equal(np.bincount(copy, minlength=5), np.bincount(parent, minlength=5))
        if kind == "dinucleotide_shuffle":
            np.testing.assert_array_equal(_dinucleotides(copy), _dinucleotides(parent))
    assert out.sequences == add_negatives(table, {"kind": kind, "per_promoter": 2, "seed": 0}).sequences
    assert out.sequences != add_negatives(table, {"kind": kind, "per_promoter": 2, "seed": 1}).sequences


def test_the_training_split_gets_them_and_the_data_record_carries_them():
    options = {"kind": "chunk_permutation", "per_promoter": 1, "seed": 0}
    plain = SyntheticDataModule(n_train=40, n_val=10, n_test=10)
    robust = SyntheticDataModule(n_train=40, n_val=10, n_test=10, added_negatives=options)
    promoters = int(plain.table("train").labels.sum())
    assert len(robust.table("train")) == 40 + promoters
    assert robust.table("val").sequences == plain.table("val").sequences
    assert robust.table("test").sequences == plain.table("test").sequences
    record = robust.provenance()
    assert record["config"]["added_negatives"] == options and robust.identity() != plain.identity()
    rebuilt = build(record["config"], DATA_MODULES, "a checkpoint", "data.config")  # as explain and analyze do
    assert rebuilt.table("train").sequences == robust.table("train").sequences
    with pytest.raises(ValueError, match="kind must be one of"):
        SyntheticDataModule(n_train=40, added_negatives={"kind": "reversal"})


def test_a_list_of_kinds_from_hydra_is_recorded_as_plain_data_that_loads_weights_only(tmp_path):
    """Hydra hands the data module a config node; the record a checkpoint carries must be plain data,
    or ``torch.load(weights_only=True)`` refuses the checkpoint."""
    import torch
    from omegaconf import OmegaConf

    options = OmegaConf.create({"kind": ["random_chunks", "chunk_permutation"], "per_promoter": 1, "redraw": True})
    data = SyntheticDataModule(n_train=20, n_val=10, n_test=10, added_negatives=options)
    torch.save({"data": data.provenance()}, tmp_path / "record.pt")
    loaded = torch.load(tmp_path / "record.pt", weights_only=True)
    assert loaded["data"]["config"]["added_negatives"]["kind"] == ["random_chunks", "chunk_permutation"]
    assert len(data.table("train")) == 20 + 2 * int(data.table("train").labels[:20].sum())


def test_balance_weights_the_training_loss_by_class_and_checkpoints_load_either_way(tmp_path):
    """With balance, class weights are N / (2 n_class) of the training split (a promoter weighs as
    much as two negatives when every promoter got one added negative); the training loss uses them,
    evaluation does not, and the checkpoint loads for explanation."""
    import torch

    from glmxai.models.build import build_classifier, load_classifier

    from conftest import compose_config, save_checkpoint

    data = SyntheticDataModule(n_train=40, n_val=10, n_test=10,
                               added_negatives={"kind": "chunk_permutation", "balance": True})
    labels = data.table("train").labels
    n1 = int(labels.sum())
    assert data.class_weights() == pytest.approx([len(labels) / (2 * (len(labels) - n1)), len(labels) / (2 * n1)])
    assert SyntheticDataModule(n_train=40).class_weights() is None
    cfg = compose_config("train", ["model=cnn", "logger=none"], tmp_path)
    module = build_classifier(cfg.model, data.table("train").sequences, class_weights=data.class_weights())
    logits, target = torch.tensor([[2.0, -1.0], [0.5, 0.3]]), torch.tensor([1, 0])
    weights = torch.tensor(data.class_weights())
    per_row = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    expected = (per_row * weights[target]).sum() / weights[target].sum()  # PyTorch's weighted mean
    assert torch.nn.functional.cross_entropy(logits, target, weight=module.class_weight) == pytest.approx(expected)
    assert module.hparams["class_weights"] == data.class_weights()
    loaded = load_classifier(save_checkpoint(module, tmp_path / "balanced.ckpt"))
    assert loaded.class_weight is None or torch.equal(loaded.class_weight, module.class_weight)


def test_redraw_serves_new_negatives_of_the_same_parents_each_epoch_and_the_same_after_a_resume():
    """With redraw, the added rows served in an epoch are fresh negatives of their own parent promoter
    (composition kept), differ between epochs, and depend on (seed, epoch, row) alone."""
    options = {"kind": "chunk_permutation", "per_promoter": 2, "seed": 0, "redraw": True}
    data = SyntheticDataModule(n_train=30, n_val=10, n_test=10, batch_size=8, added_negatives=options)
    table = data.table("train")
    parents = [s for s, y in zip(table.sequences[:30], table.labels[:30]) if y == 1]

    def served(epoch: int) -> dict[int, str]:
        loader = data.train_dataloader()
        loader.sampler.set_epoch(epoch)
        return {int(i): s for batch in loader for i, s in zip(batch["index"], batch["sequences"])}

    first, second = served(1), served(2)
    assert first == served(1) and set(first) == set(range(len(table)))
    for row in range(30):  # the split's own rows never change
        assert first[row] == second[row] == table.sequences[row]
    for row in range(30, len(table)):
        parent = to_codes(parents[(row - 30) // 2])
        for made in (first[row], second[row]):
            np.testing.assert_array_equal(np.bincount(to_codes(made), minlength=5), np.bincount(parent, minlength=5))
            assert not np.array_equal(to_codes(made), parent)
    assert sum(first[r] != second[r] for r in range(30, len(table))) == len(table) - 30
    fixed = SyntheticDataModule(n_train=30, n_val=10, n_test=10, batch_size=8,
                                added_negatives={**options, "redraw": False})
    loader = fixed.train_dataloader()
    loader.sampler.set_epoch(2)
    assert {int(i): s for b in loader for i, s in zip(b["index"], b["sequences"])} == dict(enumerate(table.sequences))


def test_a_list_of_kinds_makes_each_kind_from_every_promoter_and_redraws_each_as_itself():
    sequences = random_sequences(5, 300, seed=2)
    table = SequenceTable(sequences, np.array([1, 0, 1, 1, 0]), source="train.csv")
    options = {"kind": ["chunk_permutation", "random_chunks"], "per_promoter": 1, "seed": 0}
    extended = add_negatives(table, options)
    assert len(extended) == 5 + 6 and "chunk_permutation and random_chunks" in extended.source
    redraw = Redraw(extended, options)
    parents = [to_codes(s) for s, y in zip(sequences, table.labels) if y == 1]

    def in_place(made: np.ndarray, parent: np.ndarray) -> int:
        return sum(np.array_equal(made.reshape(20, 15)[k], parent.reshape(20, 15)[k]) for k in range(20))

    for epoch_draw in (lambda row: extended.sequences[row], lambda row: redraw(row, epoch=3)):
        for row in range(5, 11):
            parent, made = parents[(row - 5) // 2], to_codes(epoch_draw(row))
            assert in_place(made, parent) == 8  # either kind leaves 8 of the 20 chunks where they were
            same_bases = np.array_equal(np.bincount(made, minlength=5), np.bincount(parent, minlength=5))
            assert same_bases == ((row - 5) % 2 == 0)  # permuted copies keep composition, random ones do not
    assert redraw(4, epoch=3) is None


def test_the_script_writes_one_composition_kept_copy_per_promoter_with_its_parent(tmp_path):
    sequences = random_sequences(6, 300, seed=7)
    labels = [1, 0, 1, 1, 0, 1]
    (tmp_path / "test.csv").write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in zip(sequences, labels)))
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_negatives.py"
    out = tmp_path / "controls" / "copies.csv"
    run = subprocess.run([sys.executable, str(script), str(tmp_path), "test", str(out), "--moved", "16"],
                         capture_output=True, text=True, check=True)
    assert "4 chunk_permutation negatives" in run.stdout
    table = pd.read_csv(out)
    assert table.parent_row.tolist() == [0, 2, 3, 5] and set(table.parent_split) == {"test"} and not table.label.any()
    for copy, row in zip(table.sequence, table.parent_row):
        parent = sequences[row]
        assert sorted(copy) == sorted(parent) and copy[240:255] != parent[240:255]  # slot 16 always moved
        assert sum(copy[k:k + 15] != parent[k:k + 15] for k in range(0, 300, 15)) == 12
