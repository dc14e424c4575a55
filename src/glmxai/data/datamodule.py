"""Lightning data modules: GUE folders and the embedded synthetic generator.

Batches are ``{"sequences": list[str], "labels": (B,) long, "index": (B,) long}``; each
model tokenizes strings itself, so every model sees the same data.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, Sampler

from glmxai.data.negatives import Redraw, add_negatives, checked_added_negatives
from glmxai.data.synthetic import SyntheticPromoterGenerator
from glmxai.data.table import SequenceDataError, SequenceTable, read_sequence_csv
from glmxai.io import sha256_file
from glmxai.options import SEED, SIZE, Number, OptionError, check_numbers

SPLITS = ("train", "val", "test")
GUE_FILES = {"train": "train.csv", "val": "dev.csv", "test": "test.csv"}
MAX_SYNTHETIC_ROWS = 10_000_000  # per split: 3 GB of one-hot and masks at 300 bp
# How rows are served, not which rows (shift_augment rolls training batches only): left out of a data set's identity.
RUNTIME_DATA_KEYS = ("batch_size", "num_workers", "seed", "shift_augment")


DATA_NUMBERS = {"seq_len": Number(low=1, high=10**7, optional=True), "tss": Number(high=10**7), "batch_size": SIZE,
                "num_workers": Number(high=256), "seed": SEED, "shift_augment": Number(high=10**7),
                "n_train": Number(low=1, high=MAX_SYNTHETIC_ROWS), "n_val": Number(low=1, high=MAX_SYNTHETIC_ROWS),
                "n_test": Number(low=1, high=MAX_SYNTHETIC_ROWS), "data_seed": SEED}


def check_data_options(options: Mapping) -> None:
    """The numbers of a data config (``data.*``) in range, and the TSS inside the sequences; an
    ``OptionError`` naming the option otherwise. Checked before a data module is built."""
    check_numbers(options, DATA_NUMBERS, "data")
    seq_len, tss = options.get("seq_len"), options.get("tss")
    if seq_len is not None and tss is not None and not tss < seq_len:
        raise OptionError(f"data.tss={tss} lies outside sequences of data.seq_len={seq_len} bases")


def data_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """What names a data set in a data module's ``config()``: its source, layout and task, without
    the keys of how it is served (``RUNTIME_DATA_KEYS``). Two configs of one identity read the same rows."""
    return {k: v for k, v in config.items() if k not in RUNTIME_DATA_KEYS}


def split_sha256(table: SequenceTable) -> str:
    """SHA-256 of a split's content: the bytes of its file, or of its rows (sequence, label) when
    it has no file (generated data)."""
    source = Path(table.source)
    if source.is_file():
        return sha256_file(source)
    digest = hashlib.sha256()
    for sequence, label in zip(table.sequences, table.labels.tolist()):
        digest.update(f"{sequence},{label}\n".encode())
    return digest.hexdigest()


class _TableDataset(Dataset):
    """Rows of a table, read by ``(row, offset, epoch)``: the sequence rolled circularly ``offset``
    bases to the right (training augmentation: length kept), an added negative drawn afresh for
    ``epoch`` when ``redraw`` is given (``glmxai.data.negatives.Redraw``); a plain row index reads
    the table's row as it is."""

    def __init__(self, table: SequenceTable, redraw: Redraw | None = None):
        self.table, self.redraw = table, redraw

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, item):
        i, offset, epoch = item if isinstance(item, tuple) else (item, 0, None)
        fresh = self.redraw(i, epoch) if self.redraw is not None and epoch is not None else None
        sequence = self.table.sequences[i] if fresh is None else fresh
        if offset:
            sequence = sequence[len(sequence) - offset:] + sequence[: len(sequence) - offset]
        return sequence, int(self.table.labels[i]), i


class EpochSampler(Sampler):
    """The training order of one epoch: a permutation of the rows, each with a roll offset in
    0..shift, drawn from ``(seed, epoch)`` alone and served with the epoch. Lightning calls
    ``set_epoch`` before every epoch, so a run resumed from a checkpoint serves the same batches as
    one never interrupted."""

    def __init__(self, n: int, seed: int, shift: int = 0):
        self.n, self.seed, self.shift, self.epoch = n, seed, shift, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.n)
        offsets = rng.integers(self.shift + 1, size=self.n) if self.shift else np.zeros(self.n, dtype=int)
        return iter((i, offset, self.epoch) for i, offset in zip(order.tolist(), offsets.tolist()))


def collate(items) -> dict:
    sequences, labels, index = zip(*items)
    return {"sequences": list(sequences), "labels": torch.tensor(labels), "index": torch.tensor(index)}


class PromoterDataModule(L.LightningDataModule):
    """Base: holds the three ``SequenceTable`` splits and serves seeded, deterministic loaders.

    seq_len: the length every sequence must have (null: any length); tss: 0-based index of the
    transcription start site in every sequence (the one place the TSS is set: explanations and
    analyses take it from here, or from the data record a checkpoint carries). Neither has a
    default: a data set's layout is said by its config (``conf/data/gue_<task>.yaml``), never assumed.
    task: the benchmark task these splits belong to (``prom_300_all``, ``prom_core_all``, ...;
    None: not a named task), recorded in checkpoints and results beside length and TSS.
    shift_augment: training sequences are rolled circularly by a random 0..shift_augment bases
    each time they are served (0: never). It moves every motif by up to that many bases and, for
    models of non-overlapping k-mers (NT), into every token frame; validation and test data are
    never shifted.
    added_negatives: negatives made from the training split's own promoters (``glmxai.data.negatives``:
    ``{kind, per_promoter, seed[, chunk, permuted, replaced, balance, redraw]}``), appended to the
    training split only; None: none. Part of the data's identity, so checkpoints record it.
    """

    def __init__(self, *, seq_len: int | None, tss: int, batch_size: int = 64, num_workers: int = 0, seed: int = 0,
                 shift_augment: int = 0, task: str | None = None, added_negatives: Mapping | None = None):
        super().__init__()
        check_data_options({"seq_len": seq_len, "tss": tss, "batch_size": batch_size, "num_workers": num_workers,
                            "seed": seed, "shift_augment": shift_augment})
        self.added_negatives = checked_added_negatives(added_negatives)
        self.batch_size, self.num_workers = batch_size, num_workers
        self.seq_len, self.seed, self.tss = seq_len, seed, tss
        self.shift_augment, self.task = shift_augment, task
        self.tables: dict[str, SequenceTable] = {}

    def config(self) -> dict[str, Any]:
        """The arguments that rebuild this data module, with its ``_target_`` (buildable through
        ``glmxai.allowlist``, so a checkpoint or results folder can carry it safely)."""
        cls = type(self)
        return {"_target_": f"{cls.__module__}.{cls.__qualname__}", "task": self.task, "seq_len": self.seq_len,
                "tss": self.tss, "batch_size": self.batch_size, "num_workers": self.num_workers, "seed": self.seed,
                "shift_augment": self.shift_augment, "added_negatives": self.added_negatives, **self.source_args()}

    def class_weights(self) -> list[float] | None:
        """Weights of classes 0 and 1 for the training loss: N / (2 n_class) of the training split when
        ``added_negatives`` asks to ``balance`` what it made uneven, else None (equal)."""
        if not (self.added_negatives or {}).get("balance"):
            return None
        counts = np.bincount(self.table("train").labels, minlength=2)
        return [float(counts.sum() / (2 * c)) for c in counts]

    def identity(self) -> dict[str, Any]:
        """``config()`` without how the data is served (``data_identity``): equal identities read
        the same rows."""
        return data_identity(self.config())

    def source_args(self) -> dict[str, Any]:
        """The arguments that say where the sequences come from (a folder, a file, a generator)."""
        raise NotImplementedError

    def provenance(self) -> dict[str, Any]:
        """What a checkpoint records of the data it was trained on: ``config`` (see ``config``)
        and per split its ``source``, ``rows``, sequence ``length`` (None if they differ) and
        ``sha256`` (of the file's bytes, or of the generated rows for synthetic data)."""
        splits = {}
        for split in SPLITS:
            table = self.table(split)
            lengths = {len(s) for s in table.sequences}
            splits[split] = {"source": table.source, "rows": len(table), "sha256": split_sha256(table),
                             "length": lengths.pop() if len(lengths) == 1 else None}
        return {"config": self.config(), "splits": splits}

    def load_split(self, split: str) -> SequenceTable:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            self.table(split)

    def table(self, split: str) -> SequenceTable:
        """One split, loaded on first use (``dev`` is accepted for ``val``)."""
        split = "val" if split == "dev" else split
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        if split not in self.tables:
            table = self.load_split(split)
            if split == "train" and self.added_negatives is not None:
                table = add_negatives(table, self.added_negatives)
            self.tables[split] = table
        return self.tables[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        redraw = None
        if split == "train" and (self.added_negatives or {}).get("redraw"):
            redraw = Redraw(self.table("train"), self.added_negatives)
        dataset = _TableDataset(self.table(split), redraw)
        if shuffle:
            sampler = EpochSampler(len(dataset), self.seed, self.shift_augment)
        elif torch.distributed.is_available() and torch.distributed.is_initialized():
            # Under DDP, evaluate every row exactly once: Lightning's default sampler pads the
            # split with repeated rows to a multiple of the world size, which skews metrics.
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        else:
            sampler = None
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
                          collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def describe(self) -> str:
        return type(self).__name__


class GueDataModule(PromoterDataModule):
    """A GUE-format folder: ``root/{train,dev,test}.csv`` with header ``sequence,label``."""

    def __init__(self, root: str, **kwargs):
        super().__init__(**kwargs)
        self.root = Path(root).expanduser()

    def load_split(self, split: str) -> SequenceTable:
        if not self.root.is_dir():
            raise SequenceDataError(self.root, "data folder not found (set data.root to a GUE-format folder)")
        return read_sequence_csv(self.root / GUE_FILES[split], seq_len=self.seq_len)

    def source_args(self) -> dict[str, Any]:
        return {"root": str(self.root.resolve())}

    def describe(self) -> str:
        return f"gue:{self.root}"


class CsvDataModule(PromoterDataModule):
    """One plain GUE-format CSV file served as every split (for evaluation and explanation)."""

    def __init__(self, path: str, **kwargs):
        super().__init__(**kwargs)
        self.path = Path(path).expanduser()

    def load_split(self, split: str) -> SequenceTable:
        return read_sequence_csv(self.path, seq_len=self.seq_len)

    def source_args(self) -> dict[str, Any]:
        return {"path": str(self.path.resolve())}

    def describe(self) -> str:
        return f"csv:{self.path}"


class SyntheticDataModule(PromoterDataModule):
    """The embedded synthetic promoter generator (no files needed); keeps ground-truth masks."""

    def __init__(self, n_train: int = 16000, n_val: int = 1000, n_test: int = 1000, data_seed: int = 12345,
                 seq_len: int = SyntheticPromoterGenerator.LENGTH, tss: int = SyntheticPromoterGenerator.TSS,
                 decoys: int = 0, displace: bool = True, **kwargs):
        check_numbers({"n_train": n_train, "n_val": n_val, "n_test": n_test, "data_seed": data_seed}, DATA_NUMBERS,
                      "data")
        super().__init__(seq_len=seq_len, tss=tss, **kwargs)
        self.sizes = {"train": n_train, "val": n_val, "test": n_test}
        self.data_seed = data_seed
        self.generator = SyntheticPromoterGenerator(length=self.seq_len or 300, tss=self.tss, decoys=decoys,
                                                    displace=displace)

    def load_split(self, split: str) -> SequenceTable:
        return self.generator.generate_split(split, self.sizes[split], self.data_seed)

    def source_args(self) -> dict[str, Any]:
        grammar = {"decoys": self.generator.decoys} if self.generator.decoys else {}  # absent: none (older records)
        if not self.generator.displace:  # absent: displaced (older records)
            grammar["displace"] = False
        return {"n_train": self.sizes["train"], "n_val": self.sizes["val"], "n_test": self.sizes["test"],
                "data_seed": self.data_seed, **grammar}

    def describe(self) -> str:
        decoys, displace = self.generator.decoys, self.generator.displace
        return (f"synthetic:seed={self.data_seed}" + (f",decoys={decoys}" if decoys else "")
                + ("" if displace else ",displace=false"))

