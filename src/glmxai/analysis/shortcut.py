"""The shortcut test: how a model scores labelled sequences made otherwise than its benchmark's
negatives.

GUE's prom_300 negatives are promoters with most 15-bp chunks replaced by random bases; a model can
score well by spotting those random chunks. Negatives of the same promoters made differently
(chunks permuted, composition kept: ``shuffled_negatives.csv`` beside the GUE folders) expose it:
a model that learned promoter structure calls few of them promoters, a chunk detector many.

- ``read_labelled_set``: any extra labelled CSV (``sequence,label``), optionally naming each row's
  parent in the model's own data (``parent_split``, ``parent_row``).
- ``shortcut_row``: per model and set, the share of its negatives called promoter (Wilson 95% CI)
  against the share of the reference split's own negatives (Fisher's exact test of the two), and
  where parents are named, the AUROC of the parents against their copies (bootstrap 95% CI over
  the pairs), and how the copies hold their parents' chunks (``chunk_arrangement``): GENA-LM's set
  moves the same chunks of every promoter, so the test asks one question, named in the report.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from glmxai.data.encoding import to_codes
from glmxai.data.table import SequenceDataError, SequenceTable, read_sequence_csv
from glmxai.io import sha256_file
from glmxai.report import Report, fmt, p_clause

log = logging.getLogger(__name__)

# parent_split as written in a GUE folder (dev.csv) -> the data modules' split names
SPLITS = {"train": "train", "dev": "val", "val": "val", "test": "test"}
COLUMNS = ["model", "set", "split", "negatives", "called_promoter", "share", "share_ci_low", "share_ci_high",
           "reference_negatives", "reference_share", "reference_ci_low", "reference_ci_high", "fisher_p", "pairs",
           "parent_auroc", "auroc_ci_low", "auroc_ci_high", "arrangements", "commonest_share", "kept_chunks",
           "tss_chunk_from"]
CHUNK = 15  # GUE's and GENA-LM's chunk of prom_300 negatives


@dataclass
class LabelledSet:
    """An extra labelled set: ``table`` (sequences, labels), its ``name`` (the file's stem) and,
    when the file names them, each row's parent: ``parent_split`` (N,) split names and
    ``parent_row`` (N,) rows of that split (None without parents)."""

    path: Path
    table: SequenceTable
    parent_split: np.ndarray | None = None
    parent_row: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.path.stem


def read_labelled_set(path: str | Path, seq_len: int | None = None) -> LabelledSet:
    """Read ``path`` (``sequence,label``; optional ``parent_split,parent_row``), checked: bad rows
    raise ``SequenceDataError`` naming the file and line."""
    path = Path(path)
    table = read_sequence_csv(path, seq_len)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader)]
        if "parent_split" not in header and "parent_row" not in header:
            return LabelledSet(path, table)
        if "parent_split" not in header or "parent_row" not in header:
            raise SequenceDataError(path, "parent_split and parent_row come together; one is missing", line=1)
        at_split, at_row = header.index("parent_split"), header.index("parent_row")
        splits, rows = [], []
        for record in reader:
            if not record or all(not f.strip() for f in record):
                continue
            split, row = record[at_split].strip().lower(), record[at_row].strip()
            if split not in SPLITS:
                raise SequenceDataError(path, f"parent_split {split!r} is not one of {sorted(SPLITS)}",
                                        reader.line_num)
            if not (row.isascii() and row.isdigit()):
                raise SequenceDataError(path, f"parent_row {row!r} is not a row number", reader.line_num)
            splits.append(SPLITS[split])
            rows.append(int(row))
    return LabelledSet(path, table, np.array(splits), np.array(rows, dtype=np.int64))


def wilson(called: int, n: int) -> tuple[float, float]:
    """Wilson 95% interval of a proportion (``scipy.stats.binomtest``); NaN for n = 0."""
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(called, n).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


def auroc_with_ci(positive: np.ndarray, negative: np.ndarray, n_resamples: int = 1000, seed: int = 0
                  ) -> tuple[float, float, float]:
    """AUROC of paired scores (``positive[i]`` and ``negative[i]`` are one pair), with the
    percentile 95% interval of a bootstrap over the pairs."""
    def auroc(pos, neg, axis=-1):
        pos, neg = np.atleast_2d(pos), np.atleast_2d(neg)
        labels = np.r_[np.ones(pos.shape[-1]), np.zeros(neg.shape[-1])]
        return np.array([roc_auc_score(labels, np.r_[p, q]) for p, q in zip(pos, neg)]).squeeze()

    value = float(auroc(positive, negative))
    if len(positive) < 2:
        return value, float("nan"), float("nan")
    ci = stats.bootstrap((positive, negative), auroc, paired=True, vectorized=True, n_resamples=n_resamples,
                         method="percentile", random_state=seed).confidence_interval
    return value, float(ci.low), float(ci.high)


@dataclass
class Arrangement:
    """How copies hold their parents' ``chunk``-bp chunks: ``distinct`` arrangements among ``pairs``
    pairs; the commonest, ``commonest`` (slots,) = the parent's slot whose chunk each slot of the
    copy holds (-1: none), is that of ``count`` pairs."""

    pairs: int
    distinct: int
    commonest: tuple[int, ...]
    count: int

    @property
    def kept(self) -> list[int]:
        """The slots of the commonest arrangement that hold the parent's own chunk."""
        return [slot for slot, source in enumerate(self.commonest) if slot == source]


def chunk_arrangement(copies: Sequence[str], parents: Sequence[str], chunk: int = CHUNK) -> Arrangement:
    """For each pair, the parent's slot whose ``chunk``-bp chunk each whole slot of the copy holds
    (its own slot first, then the first match; -1 if none), counted over the pairs."""
    maps = []
    for copy, parent in zip(copies, parents):
        pieces = [parent[i:i + chunk] for i in range(0, len(parent) - chunk + 1, chunk)]
        first = {}
        for slot, piece in enumerate(pieces):
            first.setdefault(piece, slot)
        maps.append(tuple(slot if copy[slot * chunk:(slot + 1) * chunk] == piece
                          else first.get(copy[slot * chunk:(slot + 1) * chunk], -1)
                          for slot, piece in enumerate(pieces)))
    counts = Counter(maps)
    if not counts:
        return Arrangement(0, 0, (), 0)
    commonest, count = counts.most_common(1)[0]
    return Arrangement(len(maps), len(counts), commonest, count)


def shortcut_row(model: str, p_promoter: Callable[[list[str]], np.ndarray], labelled: LabelledSet,
                 splits: Mapping[str, SequenceTable], split: str, n_resamples: int = 1000, seed: int = 0,
                 tss: int | None = None) -> dict:
    """One row of ``COLUMNS`` for ``model`` (``p_promoter``: sequences -> p(promoter) (N,)) on
    ``labelled``: its negatives against the negatives of ``splits[split]``, the model's own data,
    and the parents named in that split against their copies, with the copies' commonest chunk
    arrangement (``tss``: the data's TSS index, to name the parent chunk the copies hold there)."""
    reference = splits[split]
    negatives = np.flatnonzero(labelled.table.labels == 0)
    probs = p_promoter([labelled.table.sequences[i] for i in negatives])
    own = np.flatnonzero(reference.labels == 0)
    own_probs = p_promoter([reference.sequences[i] for i in own])
    called, own_called = int((probs >= 0.5).sum()), int((own_probs >= 0.5).sum())
    fisher = stats.fisher_exact([[called, len(probs) - called], [own_called, len(own_probs) - own_called]])
    row = {"model": model, "set": labelled.name, "split": split, "negatives": len(probs), "called_promoter": called,
           "share": called / len(probs) if len(probs) else np.nan,
           **dict(zip(("share_ci_low", "share_ci_high"), wilson(called, len(probs)))),
           "reference_negatives": len(own_probs),
           "reference_share": own_called / len(own_probs) if len(own_probs) else np.nan,
           **dict(zip(("reference_ci_low", "reference_ci_high"), wilson(own_called, len(own_probs)))),
           "fisher_p": float(fisher.pvalue) if len(probs) and len(own_probs) else np.nan,
           "pairs": 0, "parent_auroc": np.nan, "auroc_ci_low": np.nan, "auroc_ci_high": np.nan,
           "arrangements": 0, "commonest_share": np.nan, "kept_chunks": "", "tss_chunk_from": np.nan}
    if labelled.parent_row is None:
        return row
    paired = negatives[labelled.parent_split[negatives] == split]
    out_of_range = paired[labelled.parent_row[paired] >= len(reference)]
    if len(out_of_range):
        raise SequenceDataError(labelled.path, f"parent_row {labelled.parent_row[out_of_range[0]]} is beyond the "
                                               f"{len(reference)} rows of the {split} split ({reference.source})")
    parents = labelled.parent_row[paired]
    if len(paired):
        if (reference.labels[parents] != 1).any():
            raise SequenceDataError(labelled.path, f"a parent_row of the {split} split is not a promoter there "
                                                   f"({reference.source})")
        copies = probs[np.searchsorted(negatives, paired)]
        parent_probs = p_promoter([reference.sequences[i] for i in parents])
        auroc, low, high = auroc_with_ci(parent_probs, copies, n_resamples, seed)
        arrangement = chunk_arrangement([labelled.table.sequences[i] for i in paired],
                                        [reference.sequences[i] for i in parents])
        tss_slot = None if tss is None else tss // CHUNK
        row.update(pairs=len(paired), parent_auroc=auroc, auroc_ci_low=low, auroc_ci_high=high,
                   arrangements=arrangement.distinct, commonest_share=arrangement.count / arrangement.pairs,
                   kept_chunks=",".join(map(str, arrangement.kept)),
                   tss_chunk_from=(arrangement.commonest[tss_slot] if tss_slot is not None
                                   and tss_slot < len(arrangement.commonest) else np.nan))
    return row


def indexes_split(labelled: LabelledSet, table: SequenceTable) -> bool:
    """Whether a set's parent rows can index ``table``: the set lies beside the file ``table`` was
    read from, or beside a file of the same name and content (a copy of the data folder, which a
    run trained elsewhere records under another path)."""
    source = Path(table.source)
    beside = labelled.path.resolve().parent / source.name
    if not (source.is_file() and beside.is_file()):
        return False
    return beside.resolve() == source.resolve() or sha256_file(beside) == sha256_file(source)


def shortcut_tests(checkpoints: Sequence[str | Path], options: Mapping, seed: int,
                   trust_remote_code: bool) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """``shortcut_row`` of every checkpoint (``load_classifier``; its own training data, from its
    record, is the reference) on every set of ``options["sets"]`` (``cfg.shortcut``): the table of
    tests (``fisher_p``), before the report adjusts it, and what was left out and why (a set of
    another sequence length than the model's data). A set's parents are paired only for models
    whose split file lies beside the set, itself or as a copy (``indexes_split``)."""
    from glmxai.data.recorded import job_data
    from glmxai.models.build import checkpoint_labels, load_classifier
    from glmxai.predictor import BatchedPredictor

    split = SPLITS.get(str(options["split"]))
    if split is None:
        raise ValueError(f"shortcut.split must be one of {sorted(SPLITS)}, got {options['split']!r}")
    sets = [read_labelled_set(path) for path in options["sets"]]
    paths = list(dict.fromkeys(Path(c).resolve() for c in checkpoints))  # one checkpoint named two ways: once
    modules = [load_classifier(c, map_location=str(options["device"]), trust_remote_code=trust_remote_code)
               for c in paths]
    rows, skipped = [], []
    for path, module, label in zip(paths, modules, checkpoint_labels(list(zip(paths, modules)))):
        data = job_data(None, module.hparams.get("data") or {}, path)
        predictor = BatchedPredictor(module.backbone.eval(), int(options["batch_size"]))
        p_promoter = functools.partial(_p_promoter, predictor)
        splits = {split: data.table(split)}
        lengths = {len(s) for s in splits[split].sequences}
        for labelled in sets:
            if {len(s) for s in labelled.table.sequences} != lengths:
                skipped.append((f"shortcut test of {label} on {labelled.name}",
                                f"its sequences are not of the {sorted(lengths)} bp of {label}'s data"))
                continue
            if not indexes_split(labelled, splits[split]):
                labelled = dataclasses.replace(labelled, parent_split=None, parent_row=None)
            log.info("analyze: shortcut test of %s on %s", label, labelled.path)
            rows.append(shortcut_row(label, p_promoter, labelled, splits, split, int(options["n_bootstrap"]), seed,
                                     data.config().get("tss")))
    return pd.DataFrame(rows, columns=COLUMNS), skipped


def _base_ranges(slots: Sequence[int]) -> str:
    """Chunk slots as merged base ranges, e.g. [4, 6, 7] -> '60-74, 90-119'."""
    runs: list[list[int]] = []
    for slot in sorted(slots):
        if runs and slot == runs[-1][1] + 1:
            runs[-1][1] = slot
        else:
            runs.append([slot, slot])
    return ", ".join(f"{a * CHUNK}-{(b + 1) * CHUNK - 1}" for a, b in runs)


def arrangement_sentence(row: Mapping) -> str:
    """What the copies of a paired set are, from a ``shortcut_row``: their commonest chunk arrangement."""
    kept = [int(k) for k in str(row["kept_chunks"]).split(",") if k]
    sentence = (f"Copies in {row['set']}: {fmt(100 * row['commonest_share'], 3)}% of the {fmt(row['pairs'])} pairs "
                f"hold their parent's {CHUNK}-bp chunks in one arrangement ({fmt(row['arrangements'])} arrangements in "
                f"all); in it the bases {_base_ranges(kept) or 'none'} keep their place and every other chunk moves")
    if pd.notna(row["tss_chunk_from"]):
        source = int(row["tss_chunk_from"])
        where = ("the TSS keeps its own chunk" if source in kept else
                 f"the chunk at the TSS holds the parent's bases {source * CHUNK}-{(source + 1) * CHUNK - 1}"
                 if source >= 0 else "the chunk at the TSS holds none of the parent's chunks")
        sentence += f"; {where}"
    if row["commonest_share"] >= 0.9:
        sentence += "; the set tests a model on that arrangement, not on chunk order in general"
    return sentence + "."


def _p_promoter(predictor, sequences: list[str]) -> np.ndarray:
    return predictor.p_promoter(to_codes(sequences))


def shortcut_section(report: Report, table: pd.DataFrame, skipped: Sequence[tuple[str, str]] = ()) -> dict:
    """Write the shortcut test (``shortcut_tests``, adjusted); returns its rows."""
    for what, why in skipped:
        report.skip(what, why)
    report.section("Shortcut test: negatives made otherwise", (
        "Each model scores extra labelled sets (shortcut.sets) whose negatives were made otherwise than its "
        "benchmark's, e.g. GENA-LM's chunk-permuted copies of the same promoters (composition kept), against "
        "the negatives of its own data (reference). A model that learned promoter structure calls few of them "
        "promoters; one that spots GUE's random chunks calls many. Shares with Wilson 95% CIs, Fisher's exact "
        "test of the two shares; parents against their copies (where the set lies beside the model's split file or "
        "a copy of it): AUROC "
        "with a bootstrap 95% CI over the pairs (0.5: the model cannot tell a promoter from its permuted copy)."))
    sentences = []
    for row in table.to_dict("records"):
        sentence = (f"{row['model']} calls {fmt(100 * row['share'], 3)}% of the {fmt(row['negatives'])} negatives of "
                    f"{row['set']} promoters (95% CI {fmt(100 * row['share_ci_low'], 3)} to "
                    f"{fmt(100 * row['share_ci_high'], 3)}%), against {fmt(100 * row['reference_share'], 3)}% of the "
                    f"{fmt(row['reference_negatives'])} negatives of its own {row['split']} split (adjusted p "
                    f"{p_clause(row['fisher_p_adj'])})")
        if row["pairs"]:
            sentence += (f"; it ranks {fmt(row['pairs'])} promoters above their copies with AUROC "
                         f"{fmt(row['parent_auroc'])} (95% CI {fmt(row['auroc_ci_low'])} to "
                         f"{fmt(row['auroc_ci_high'])})")
        sentences.append(sentence + ".")
    report.findings(sentences, headline=True)
    report.findings([arrangement_sentence(row) for row in table.drop_duplicates("set").to_dict("records")
                     if row["pairs"]])
    report.table("shortcut_test", table, "Per model and extra set: its negatives called promoter against the "
                                         "reference split's own negatives, and parents against their copies.")
    return {"rows": table.to_dict("records")}
