"""Data layer: representation conversions, GUE CSV validation, the synthetic generator."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from glmxai.data.datamodule import CsvDataModule, GueDataModule, SyntheticDataModule
from glmxai.data.encoding import (
    codes_to_one_hot,
    invalid_characters,
    one_hot,
    one_hot_to_codes,
    reverse_complement,
    to_codes,
    to_strings,
)
from glmxai.data.synthetic import MODULES, SyntheticPromoterGenerator, write_gue_folder
from glmxai.data.table import SequenceDataError, check_both_classes, check_lengths, read_sequence_csv


def test_conversions_round_trip_including_n():
    seqs = ["ACGTN", "NNACG"]
    codes = to_codes(seqs)
    assert codes.tolist() == [[0, 1, 2, 3, 4], [4, 4, 0, 1, 2]]
    assert to_strings(codes) == seqs
    oh = one_hot(seqs)
    assert oh.shape == (2, 4, 5)
    assert oh[0, :, 4].sum() == 0 and oh[0, :, 1].tolist() == [0, 1, 0, 0]
    assert to_strings(one_hot_to_codes(oh)) == seqs
    assert torch_equal(codes_to_one_hot(codes), oh)
    assert to_codes("acgt").tolist() == [0, 1, 2, 3]
    assert reverse_complement("AACGTN") == "NACGTT"
    assert invalid_characters("ACxGU") == [(2, "x"), (4, "U")]


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_to_codes_rejects_unequal_lengths_and_bad_characters():
    with pytest.raises(ValueError, match="different lengths"):
        to_codes(["ACG", "AC"])
    with pytest.raises(ValueError, match="invalid character 'X' at position 1"):
        to_codes(["AXG"])


def _write(tmp_path, text: str, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reader_uppercases_and_accepts_n(tmp_path):
    table = read_sequence_csv(_write(tmp_path, "sequence,label\nacgN,1\nTTTT,0\n"))
    assert table.sequences == ["ACGN", "TTTT"]
    assert table.labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    "text, line, problem",
    [
        ("sequence,label\nACGT,1\nACXT,0\n", 3, "invalid character 'X' at position 2"),
        ("sequence,label\nACGT,1\nACGT,2\n", 3, "label '2' is not 0 or 1"),
        ("sequence,label\nACGT,1\nACG,0\n", 3, "length 3, expected 4"),
        ("sequence,label\nACGT,1,extra\n", 2, "expected 2 fields, found 3"),
        ("sequence,label\n,1\n", 2, "empty sequence"),
        ("seq,label\nACGT,1\n", 1, "missing column"),
    ],
)
def test_reader_errors_name_file_line_and_problem(tmp_path, text, line, problem):
    path = _write(tmp_path, text)
    with pytest.raises(SequenceDataError) as err:
        read_sequence_csv(path, seq_len=4)
    assert err.value.line == line
    assert str(path) in str(err.value) and f"line {line}" in str(err.value) and problem in str(err.value)


def test_reader_rejects_empty_and_headless_files(tmp_path):
    with pytest.raises(SequenceDataError, match="file is empty"):
        read_sequence_csv(_write(tmp_path, ""))
    with pytest.raises(SequenceDataError, match="no data rows"):
        read_sequence_csv(_write(tmp_path, "sequence,label\n"))
    with pytest.raises(SequenceDataError, match="file not found"):
        read_sequence_csv(tmp_path / "missing.csv")


def test_reader_accepts_a_utf8_byte_order_mark(tmp_path):
    """What Excel writes for "CSV UTF-8": the header must still be found."""
    path = tmp_path / "excel.csv"
    path.write_bytes("sequence,label\r\nACGT,1\r\nTTGA,0\r\n".encode("utf-8-sig"))
    table = read_sequence_csv(path)
    assert table.sequences == ["ACGT", "TTGA"] and table.labels.tolist() == [1, 0]


def test_reader_names_compressed_and_non_utf8_files(tmp_path):
    gz = tmp_path / "train.csv"
    gz.write_bytes(gzip.compress(b"sequence,label\nACGT,1\n"))
    with pytest.raises(SequenceDataError, match=rf"{gz}: not a CSV text file, gzip-compressed: decompress it"):
        read_sequence_csv(gz)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"sequence,label\nACGT,1\nACGT,0 \xe9\n")
    with pytest.raises(SequenceDataError, match=rf"{latin}, line 3: not UTF-8 text \(byte 0xe9"):
        read_sequence_csv(latin)
    huge = _write(tmp_path, "sequence,label\nACGT,1\n" + "A" * 200_000 + ",0\n", name="huge.csv")
    with pytest.raises(SequenceDataError, match=rf"{huge}, line 3: malformed CSV: field larger than field limit"):
        read_sequence_csv(huge)


def test_single_class_split_is_named(tmp_path):
    table = read_sequence_csv(_write(tmp_path, "sequence,label\nACGT,1\nTTGA,1\n", name="train.csv"))
    with pytest.raises(SequenceDataError, match=r"train\.csv: every label of the train split is 1 \(2 rows\)"):
        check_both_classes(table, "train")
    check_both_classes(read_sequence_csv(_write(tmp_path, "sequence,label\nACGT,1\nTTGA,0\n")), "train")


def test_check_lengths_reports_first_bad_row(tmp_path):
    table = read_sequence_csv(_write(tmp_path, "sequence,label\nACGT,1\nACGTA,0\n"))
    with pytest.raises(SequenceDataError, match="line 3: sequence has length 5, the model needs exactly 4"):
        check_lengths(table, 4)


def test_real_gue_subset_reads_with_its_n(gue_root):
    dm = GueDataModule(root=str(gue_root), seq_len=300, tss=249)
    train = dm.table("train")
    assert len(train) == 4736 and len(dm.table("dev")) == 592
    assert any("N" in s for s in train.sequences)
    assert {len(s) for s in train.sequences} == {300}


def test_gue_module_errors_on_missing_folder(tmp_path):
    with pytest.raises(SequenceDataError, match="data folder not found"):
        GueDataModule(root=str(tmp_path / "nope"), seq_len=300, tss=249).table("train")


@pytest.mark.parametrize("decoys", [0, 5])
def test_generator_is_seeded_and_masks_mark_functional_motifs(decoys):
    """With or without extra decoys: labels follow the grammar, masks mark the motifs that make a
    promoter, decoy masks every motif outside its window, and decoys=0 is the default data."""
    gen = SyntheticPromoterGenerator(decoys=decoys)
    a, b = gen.generate(300, seed=7), gen.generate(300, seed=7)
    assert a.sequences == b.sequences and (a.labels == b.labels).all()
    assert gen.generate(300, seed=8).sequences != a.sequences
    assert 0.4 < a.labels.mean() < 0.6
    assert not a.masks[a.labels == 0].any()  # negatives: no module satisfied
    assert a.masks[a.labels == 1].any(axis=1).all()
    specs = {spec.name: spec for module in MODULES for spec in module}
    for motif in a.motifs:
        row, start, end = motif["row"], motif["start"], motif["end"]
        assert a.sequences[row][start:end] == motif["site"]
        spec = specs[motif["motif"]]
        offset = start - gen.tss
        in_window = abs(offset - spec.offset) <= spec.jitter
        assert in_window == motif["functional"]
        assert a.masks[row, start:end].all() == (motif["functional"] and motif["module_satisfied"])
    # a sequence is positive iff some module has both motifs functional
    for row in range(len(a)):
        functional = {m["motif"] for m in a.motifs if m["row"] == row and m["functional"]}
        satisfied = any(all(spec.name in functional for spec in module) for module in MODULES)
        assert satisfied == bool(a.labels[row])
        assert sum(1 for m in a.motifs if m["row"] == row and not m["functional"]) >= decoys
    decoy_masks = SyntheticPromoterGenerator.decoy_masks(a)
    assert not (decoy_masks & a.masks).any() and decoy_masks[a.labels == 1].any(axis=1).mean() > 0.4
    assert (decoy_masks.sum(axis=1) >= 7 * decoys).all()  # every decoy is at least 7 bp
    if decoys == 0:
        assert a.sequences == SyntheticPromoterGenerator().generate(300, seed=7).sequences
    with pytest.raises(ValueError, match="data.decoys must be an integer in 0..16"):
        SyntheticPromoterGenerator(decoys=17)


@pytest.mark.parametrize("displace", [True, False])
def test_motifs_outside_their_windows_tell_the_label_only_when_displaced(displace):
    """Scanned from the sequences (a regex of each consensus, not the generator's records): with
    displaced motifs, negatives carry more copies outside the windows than promoters (Mann-Whitney
    p < 1e-6); with displace=False the copies outside the windows are the decoys alone, as many in
    each class (p > 0.01), and the labels still follow the grammar."""
    import re

    from scipy.stats import mannwhitneyu

    from glmxai.data.encoding import IUPAC
    from glmxai.data.synthetic import ALL_MOTIFS

    table = SyntheticPromoterGenerator(decoys=4, displace=displace).generate(2000, seed=3)
    gen = SyntheticPromoterGenerator()
    outside = np.zeros(len(table), int)
    for spec in ALL_MOTIFS:
        pattern = re.compile("(?=" + "".join(f"[{IUPAC[c]}]" for c in spec.consensus) + ")")
        home = gen.tss + spec.offset
        for row, seq in enumerate(table.sequences):
            outside[row] += sum(abs(m.start() - home) > spec.jitter for m in pattern.finditer(seq))
    p = mannwhitneyu(outside[table.labels == 0], outside[table.labels == 1]).pvalue
    if displace:
        assert p < 1e-6 and outside[table.labels == 0].mean() > outside[table.labels == 1].mean()
    else:
        assert p > 0.01
        for row in range(len(table)):
            motifs = [m for m in table.motifs if m["row"] == row]
            assert sum(not m["functional"] for m in motifs) == 4  # the decoys, nothing displaced
            functional = {m["motif"] for m in motifs if m["functional"]}
            assert any(all(s.name in functional for s in module) for module in MODULES) == bool(table.labels[row])
    with pytest.raises(ValueError, match="data.displace must be true or false"):
        SyntheticPromoterGenerator(displace="no")


def test_motif_free_masks_keep_margin_from_every_planted_motif():
    """A constructed table: motifs at 5..9 and 20..24 of a 30-bp row leave free 0..1, 13..16 and 28..29
    with margin 3; a row without motifs is all free."""
    from glmxai.data.table import SequenceTable

    motifs = [{"row": 0, "start": 5, "end": 10}, {"row": 0, "start": 20, "end": 25}]
    table = SequenceTable(["A" * 30, "C" * 30], np.array([1, 0]), "toy", motifs=motifs)
    free = SyntheticPromoterGenerator.motif_free_masks(table, margin=3)
    assert np.flatnonzero(free[0]).tolist() == [0, 1, 13, 14, 15, 16, 28, 29]
    assert free[1].all()


def test_checkpoint_data_record_rebuilds_the_grammar_it_names():
    """A checkpoint's data record of decoys=4, displace=False rebuilds the same test rows through the
    allow-list (as explain does); a record whose displace is not a boolean is refused, naming it."""
    from glmxai.allowlist import UntrustedConfigError
    from glmxai.data.recorded import job_data

    data = SyntheticDataModule(n_train=20, n_val=10, n_test=30, decoys=4, displace=False)
    record = data.provenance()
    rebuilt = job_data(None, record, Path("best.ckpt"))
    assert rebuilt.describe() == "synthetic:seed=12345,decoys=4,displace=false"
    assert rebuilt.table("test").sequences == data.table("test").sequences
    assert rebuilt.table("test").sequences != SyntheticDataModule(n_test=30, decoys=4).table("test").sequences
    record["config"]["displace"] = "no"
    with pytest.raises(UntrustedConfigError, match="displace"):
        job_data(None, record, Path("best.ckpt"))


def test_generator_defeats_bag_of_kmers():
    """Every sequence has one of each motif, so k-mer counts carry (almost) no label signal."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import matthews_corrcoef

    gen = SyntheticPromoterGenerator()
    train, test = gen.generate(3000, seed=1), gen.generate(1000, seed=2)
    vec = CountVectorizer(analyzer="char", ngram_range=(4, 4))
    clf = LogisticRegression(max_iter=1000, C=0.1).fit(vec.fit_transform(train.sequences), train.labels)
    assert matthews_corrcoef(test.labels, clf.predict(vec.transform(test.sequences))) < 0.2


def test_synthetic_writes_readable_gue_folder(tmp_path):
    splits = SyntheticPromoterGenerator().splits(50, 20, 20, seed=3)
    out = write_gue_folder(splits, tmp_path / "syn")
    dm = GueDataModule(root=str(out), seq_len=300, tss=249)
    assert dm.table("test").sequences == splits["test"].sequences
    masks = np.load(out / "test_masks.npy")
    assert (masks == splits["test"].masks).all()
    single = CsvDataModule(path=str(out / "dev.csv"), seq_len=300, tss=249).table("test")
    assert single.sequences == splits["val"].sequences


def test_synthetic_datamodule_batches_are_decided_by_the_seed():
    """The same data seed gives the same first batch; another data seed another one; and the
    next epoch another order of the same rows."""
    def first_batch(seed: int, epoch: int = 0) -> dict:
        loader = SyntheticDataModule(n_train=64, n_val=16, n_test=16, batch_size=8, seed=seed).train_dataloader()
        loader.sampler.set_epoch(epoch)
        return next(iter(loader))

    first = first_batch(5)
    assert first["sequences"] == first_batch(5)["sequences"]
    assert first["sequences"] != first_batch(6)["sequences"]
    assert first["sequences"] != first_batch(5, epoch=1)["sequences"]
    assert first["labels"].shape == (8,) and len(first["sequences"][0]) == 300


def test_shift_augment_rolls_training_sequences_only():
    """Every served training sequence is its row rolled right by 0..shift bases (length kept,
    all offsets drawn); validation and test rows come back unchanged."""
    dm = SyntheticDataModule(n_train=64, n_val=16, n_test=16, batch_size=64, seed=5, shift_augment=5)
    original = dm.table("train").sequences
    offsets = []
    for _ in range(4):
        batch = next(iter(dm.train_dataloader()))
        for sequence, i in zip(batch["sequences"], batch["index"].tolist()):
            row = original[i]
            shifts = [s for s in range(6) if row[len(row) - s:] + row[: len(row) - s] == sequence]
            assert len(sequence) == len(row) and shifts, f"row {i} served as something other than a roll"
            offsets.append(shifts[0])
    assert set(offsets) == set(range(6))
    for split, loader in (("val", dm.val_dataloader()), ("test", dm.test_dataloader())):
        batch = next(iter(loader))
        assert batch["sequences"] == [dm.table(split).sequences[i] for i in batch["index"].tolist()]
    assert dm.config()["shift_augment"] == 5
    with pytest.raises(ValueError, match="shift_augment"):
        SyntheticDataModule(shift_augment=-1)
