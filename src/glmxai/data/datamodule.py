"""Lightning data modules: GUE folders and the embedded synthetic generator.

Batches are ``{"sequences": list[str], "labels": (B,) long, "index": (B,) long}``; each
model tokenizes strings itself, so every model sees the same data.
"""
from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset

from glmxai.data.synthetic import SyntheticPromoterGenerator
from glmxai.data.table import SequenceDataError, SequenceTable, read_sequence_csv

SPLITS = ("train", "val", "test")
GUE_FILES = {"train": "train.csv", "val": "dev.csv", "test": "test.csv"}


class _TableDataset(Dataset):
    def __init__(self, table: SequenceTable):
        self.table = table

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        return self.table.sequences[i], int(self.table.labels[i]), i


def collate(items) -> dict:
    sequences, labels, index = zip(*items)
    return {"sequences": list(sequences), "labels": torch.tensor(labels), "index": torch.tensor(index)}


class PromoterDataModule(L.LightningDataModule):
    """Base: holds the three ``SequenceTable`` splits and serves seeded, deterministic loaders.

    seq_len: the length every sequence must have (null: any length).
    """

    def __init__(self, batch_size: int = 64, num_workers: int = 0, seq_len: int | None = 300, seed: int = 0):
        super().__init__()
        self.batch_size, self.num_workers = batch_size, num_workers
        self.seq_len, self.seed = seq_len, seed
        self.tables: dict[str, SequenceTable] = {}

    def load_split(self, split: str) -> SequenceTable:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split not in self.tables:
                self.tables[split] = self.load_split(split)

    def table(self, split: str) -> SequenceTable:
        """One split, loaded on first use (``dev`` is accepted for ``val``)."""
        split = "val" if split == "dev" else split
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        if split not in self.tables:
            self.tables[split] = self.load_split(split)
        return self.tables[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        dataset = _TableDataset(self.table(split))
        sampler = None
        if not shuffle and torch.distributed.is_available() and torch.distributed.is_initialized():
            # Under DDP, evaluate every row exactly once: Lightning's default sampler pads the
            # split with repeated rows to a multiple of the world size, which skews metrics.
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, sampler=sampler,
                          num_workers=self.num_workers, collate_fn=collate, generator=generator)

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

    def describe(self) -> str:
        return f"gue:{self.root}"


class CsvDataModule(PromoterDataModule):
    """One plain GUE-format CSV file served as every split (for evaluation and explanation)."""

    def __init__(self, path: str, **kwargs):
        super().__init__(**kwargs)
        self.path = Path(path).expanduser()

    def load_split(self, split: str) -> SequenceTable:
        return read_sequence_csv(self.path, seq_len=self.seq_len)

    def describe(self) -> str:
        return f"csv:{self.path}"


class SyntheticDataModule(PromoterDataModule):
    """The embedded synthetic promoter generator (no files needed); keeps ground-truth masks."""

    def __init__(self, n_train: int = 16000, n_val: int = 1000, n_test: int = 1000, data_seed: int = 12345,
                 tss: int = 249, **kwargs):
        super().__init__(**kwargs)
        self.sizes = {"train": n_train, "val": n_val, "test": n_test}
        self.data_seed = data_seed
        self.generator = SyntheticPromoterGenerator(length=self.seq_len or 300, tss=tss)

    def load_split(self, split: str) -> SequenceTable:
        return self.generator.generate_split(split, self.sizes[split], self.data_seed)

    def describe(self) -> str:
        return f"synthetic:seed={self.data_seed}"

