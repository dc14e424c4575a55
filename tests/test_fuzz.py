"""Every file glmxai reads, mutated (hypothesis): the reader succeeds with a correct result or fails
with glmxai's own error naming the file, leaving nothing half-written (``fuzzing.clean_outcome``).

Each test starts from a valid file the project itself wrote. The default run draws a few cases of
each kind from a fixed seed (the ``ci`` profile); ``python -m pytest -m fuzz`` draws 1,000 of each
(the ``fuzz`` profile; ``--hypothesis-show-statistics`` prints how many ran). Every failure a fuzz
run found is kept as an ``@example`` of its test, so the default run checks it every time.
"""
from __future__ import annotations

import functools
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from fuzzing import byte_mutations, clean_outcome, odd_values
from hypothesis import example, given
from hypothesis import strategies as st

from glmxai.analysis.shortcut import read_labelled_set
from glmxai.data.annotations import flags_of, read_annotations
from glmxai.data.table import SequenceTable, read_sequence_csv, write_sequence_csv
from glmxai.explain_runs import load_run

pytestmark = pytest.mark.fuzz
LENGTH = 30
ROWS = 8


def _sequences(n: int = ROWS, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(n)]


@functools.cache
def valid_csv() -> bytes:
    """A split as glmxai writes it: ROWS sequences of LENGTH bp, labels alternating."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "test.csv"
        write_sequence_csv(SequenceTable(_sequences(), np.arange(ROWS) % 2, "fuzz"), path)
        return path.read_bytes()


def _written(folder: str, name: str, data: bytes) -> Path:
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _check_table(table: SequenceTable) -> None:
    """What any table read must satisfy."""
    assert len(table) == len(table.labels) > 0
    assert all(set(s) <= set("ACGTN") and len(s) == LENGTH for s in table.sequences)
    assert set(table.labels.tolist()) <= {0, 1} and table.labels.dtype == np.int64


# ---------------------------------------------------------------- CSV splits

@given(byte_mutations(valid_csv()))
def test_csv_split_with_mutated_bytes(data):
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "test.csv", data)
        table = clean_outcome(lambda: read_sequence_csv(path, LENGTH), path)
        if table is not None:
            _check_table(table)


@given(byte_mutations(valid_csv()), st.sampled_from(["train", "dev", "test"]))
def test_gue_folder_with_a_mutated_split_through_the_data_module(data, split):
    """A GUE-layout folder whose one split is mutated, read as training reads it: the data module
    with composition-kept added negatives, its training batches and the splits' hashes."""
    from glmxai.data.datamodule import GueDataModule, split_sha256

    with tempfile.TemporaryDirectory() as folder:
        for name in ("train", "dev", "test"):
            _written(folder, f"{name}.csv", data if name == split else valid_csv())
        module = GueDataModule(root=folder, seq_len=LENGTH, tss=10, batch_size=4,
                               added_negatives={"kind": "dinucleotide_shuffle", "redraw": True})

        def read():
            module.setup()
            return [split_sha256(module.table(name)) for name in ("train", "val", "test")], next(
                iter(module.train_dataloader()))

        outcome = clean_outcome(read, Path(folder) / f"{split}.csv")
        if outcome is not None:
            for name in ("train", "val", "test"):
                _check_table(module.table(name))
            assert all(len(s) == LENGTH for s in outcome[1]["sequences"])


LOOKALIKES = ["\u0410", "\u0421", "\u0422", "\uff21", "\u13aa", "\u0391", "a\u0301", "\u212a", "\u00df", "\u0131"]
BAD_LABELS = ["1.0", " 1", "true", "-1", "2", "", "nan", "\uff11", "0x1", "1e0", "01"]


def _rows(text: str) -> list[str]:
    return text.split("\n")


def _at(lines: list[str], pick: int) -> int:
    """A data line (not the header, not the trailing empty one) where there is one."""
    return min(1 + pick % max(len(lines) - 2, 1), len(lines) - 1)


def _apply(text: str, kind: str, pick: int) -> str:
    lines = _rows(text)
    i = _at(lines, pick)
    seq, _, label = lines[i].partition(",")
    if kind == "crlf":
        return text.replace("\n", "\r\n")
    if kind == "cr":
        return text.replace("\n", "\r")
    if kind == "mixed":
        return "".join(line + ("\r\n" if j % 2 else "\n") for j, line in enumerate(lines[:-1]))
    if kind == "quote" and not seq.startswith('"'):
        lines[i] = f'"{seq}",{label}'
    elif kind == "lower":
        lines[i] = f"{seq.lower()},{label}"
    elif kind == "empty_lines":
        lines[i:i] = ["", "  ", ","]
    elif kind == "bom":
        return text if text.startswith("\ufeff") else "\ufeff" + text
    elif kind == "extra_field":
        lines[i] += ",extra"
    elif kind == "missing_field":
        lines[i] = seq
    elif kind == "label":
        lines[i] = f"{seq},{BAD_LABELS[pick % len(BAD_LABELS)]}"
    elif kind == "lookalike":
        at = pick % max(len(seq), 1)
        lines[i] = f"{seq[:at]}{LOOKALIKES[pick % len(LOOKALIKES)]}{seq[at + 1:]},{label}"
    elif kind == "nul":
        lines[i] = f"{seq[:3]}\x00{seq[3:]},{label}"
    elif kind == "long_line":
        lines[i] = f"{'A' * 10**6},{label}"
    elif kind == "unbalanced_quote":
        lines[i] = f'"{seq},{label}'
    elif kind == "many_rows" and len(lines) < 100:  # once: 4,000 rows (again would be 2 million)
        lines[1:1] = lines[1:-1] * 500
    elif kind == "header_only":
        lines = lines[:1] + [""]
    elif kind == "swapped_header":
        lines[0] = "label,sequence"
    return "\n".join(lines)


NEUTRAL = {"crlf", "cr", "mixed", "quote", "lower", "empty_lines", "bom", "swapped_header"}
KINDS = sorted(NEUTRAL | {"extra_field", "missing_field", "label", "lookalike", "nul", "long_line",
                          "unbalanced_quote", "many_rows", "header_only"})


@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 10**6)), min_size=1, max_size=3))
def test_csv_split_with_mutated_text(mutations):
    """A neutral change (line ends, quoting, case, blank lines, a byte-order mark, swapped columns)
    gives the original table; any other change or combination a clean error or a valid table."""
    text = valid_csv().decode().replace("\r\n", "\n")  # csv.writer ends lines with \r\n
    line_ends = {"crlf", "cr", "mixed"}  # applied last: the other mutations work on lines ending in \n
    ended = False
    for kind, pick in sorted(mutations, key=lambda m: m[0] in line_ends):
        if kind in line_ends:  # one line-end convention at a time
            if ended:
                continue
            ended = True
        if kind == "swapped_header":  # the columns swap, header and rows alike
            text = "\n".join(",".join(reversed(line.split(","))) if line else line for line in _rows(text))
            continue
        text = _apply(text, kind, pick)
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "test.csv", text.encode())
        table = clean_outcome(lambda: read_sequence_csv(path, LENGTH), path)
        neutral = len(mutations) == 1 and mutations[0][0] in NEUTRAL  # combined, some undo or break each other
        if table is None:
            assert not neutral, "a neutral change was refused"
            return
        _check_table(table)
        if neutral:
            assert table.sequences == _sequences() and table.labels.tolist() == (np.arange(ROWS) % 2).tolist()


# ---------------------------------------------------------------- annotation tables and labelled sets

@functools.cache
def valid_annotations() -> bytes:
    return ("row,epdnew_ids,tata_box,inr\n" + "".join(f"{r},ID{r},{r % 2},{int(r < 3)}\n" for r in range(ROWS))
            ).encode()


@given(st.one_of(byte_mutations(valid_annotations()),
                 st.tuples(st.sampled_from(KINDS), st.integers(0, 10**6)).map(
                     lambda m: _apply(valid_annotations().decode(), *m).encode())))
def test_annotation_table_mutated(data):
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "test_epd.csv", data)

        def read():  # as analyze and explain use a table: read it, then ask for its flags
            table = read_annotations(path)
            return table, [flags_of(table, np.arange(ROWS + 2), f) for f in ("tata_box", "inr") if f in table.columns]

        outcome = clean_outcome(read, path)
        if outcome is None:
            return
        table, flags = outcome
        assert table.index.is_unique and (table.index >= 0).all()
        for values in flags:
            assert values.shape == (ROWS + 2,) and set(values[~np.isnan(values)].tolist()) <= {0.0, 1.0}


@functools.cache
def valid_labelled_set() -> bytes:
    rows = "".join(f"{s},{r % 2},{'test' if r % 3 else 'dev'},{r}\n" for r, s in enumerate(_sequences()))
    return ("sequence,label,parent_split,parent_row\n" + rows).encode()


@given(st.one_of(byte_mutations(valid_labelled_set()),
                 st.tuples(st.sampled_from(KINDS), st.integers(0, 10**6)).map(
                     lambda m: _apply(valid_labelled_set().decode(), *m).encode())))
def test_labelled_set_mutated(data):
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "shuffled_negatives.csv", data)
        labelled = clean_outcome(lambda: read_labelled_set(path, LENGTH), path)
        if labelled is None:
            return
        _check_table(labelled.table)
        if labelled.parent_row is not None:
            assert len(labelled.parent_row) == len(labelled.table) and (labelled.parent_row >= 0).all()


# ---------------------------------------------------------------- explain result folders

@functools.cache
def valid_explain_folder() -> dict[str, bytes]:
    """attributions.npz and meta.json as an explain job writes them (a toy ISM run of 6 sequences)."""
    from glmxai.store import save_npz

    sequences = _sequences(6)
    rng = np.random.default_rng(1)
    meta = {"method": "ism", "model": "cnn", "checkpoint": "/nowhere/best.ckpt", "split": "test", "tss": 20,
            "n_sequences": 6, "sequence_length": LENGTH, "data": "fuzz",
            "data_config": {"_target_": "glmxai.data.datamodule.CsvDataModule", "path": "/nowhere/test.csv",
                            "seq_len": LENGTH, "tss": 20}}
    with tempfile.TemporaryDirectory() as folder:
        save_npz(Path(folder) / "attributions.npz", {
            "scores": rng.normal(size=(6, LENGTH)).astype(np.float32), "sequences": np.array(sequences),
            "labels": np.arange(6) % 2, "probs": rng.random(6).astype(np.float32), "index": np.arange(6) * 3})
        (Path(folder) / "meta.json").write_text(json.dumps(meta))
        return {name: (Path(folder) / name).read_bytes() for name in ("attributions.npz", "meta.json")}


def _check_run(run) -> None:
    n, length = run.scores.shape
    assert n == len(run.sequences) == len(run.labels) == len(run.probs) == len(run.index) > 0
    assert np.isfinite(run.scores).all() and ((run.probs >= 0) & (run.probs <= 1)).all()
    assert set(run.labels.tolist()) <= {0, 1} and (run.index >= 0).all()
    assert run.tss is None or (isinstance(run.tss, int) and 0 <= run.tss < length)  # None: analyze asks for it
    assert all(len(s) == length for s in run.sequences)


def _load_folder(files: dict[str, bytes]):
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files.items():
            _written(folder, name, data)
        named = Path(folder)
        run = clean_outcome(lambda: load_run(named), named)
        if run is not None:
            _check_run(run)


ARRAY_CHANGES = ["drop", "float16", "int8", "string", "bool", "nan", "inf", "scalar", "empty", "transpose",
                 "extra_row", "negative", "huge", "labels_two", "3d"]


def _changed(array: np.ndarray, change: str) -> np.ndarray | None:
    array = array.reshape(1) if array.ndim == 0 else array  # a scalar made by an earlier change
    if change == "drop":
        return None
    if change in ("float16", "int8", "bool"):
        return array.astype(change) if array.dtype.kind != "U" else array
    if change == "string":
        return array.astype(str)
    if change in ("nan", "inf"):
        out = array.astype(np.float64) if array.dtype.kind in "fiub" else array
        if out.dtype.kind == "f" and out.size:
            out.flat[0] = np.nan if change == "nan" else np.inf
        return out
    if change == "scalar":
        return np.asarray(array.flat[0]) if array.size else np.asarray(0)
    if change == "empty":
        return array[:0]
    if change == "transpose":
        return array.T.copy()
    if change == "extra_row":
        return np.concatenate([array, array[:1]])
    if change == "negative":
        return -array if array.dtype.kind in "fi" else array
    if change == "huge":
        return array * 10**12 if array.dtype.kind in "fi" else array
    if change == "labels_two":
        return array + 2 if array.dtype.kind in "iu" else array
    return array[None]  # 3d


@given(st.lists(st.tuples(st.sampled_from(["scores", "sequences", "labels", "probs", "index", "masks"]),
                          st.sampled_from(ARRAY_CHANGES)), min_size=1, max_size=3))
def test_explain_folder_with_mutated_arrays(changes):
    from glmxai.store import load_npz, save_npz

    files = dict(valid_explain_folder())
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "attributions.npz", files["attributions.npz"])
        arrays = load_npz(path)
        no_masks = np.zeros_like(arrays["scores"], dtype=bool)
        for key, change in changes:
            base = arrays.get(key, no_masks)
            value = _changed(base, change)
            if value is None:
                arrays.pop(key, None)
            else:
                arrays[key] = value
        save_npz(path, arrays)
        files["attributions.npz"] = path.read_bytes()
    _load_folder(files)


META_KEYS = ["method", "model", "checkpoint", "split", "tss", "n_sequences", "sequence_length", "data", "data_config",
             "data_config.tss", "data_config.seq_len", "data_config._target_", "data_config.path"]


@given(st.lists(st.tuples(st.sampled_from(META_KEYS), st.one_of(odd_values(), st.just("<drop>"))), min_size=1,
                max_size=3))
@example([("tss", 10**9)])
def test_explain_folder_with_mutated_meta(changes):
    files = dict(valid_explain_folder())
    meta = json.loads(files["meta.json"])
    for key, value in changes:
        holder, name = (meta, key) if "." not in key else (meta.get("data_config"), key.split(".", 1)[1])
        if not isinstance(holder, dict):
            continue
        if value == "<drop>":
            holder.pop(name, None)
        else:
            holder[name] = value
    files["meta.json"] = json.dumps(meta, allow_nan=True).encode()
    _load_folder(files)


@given(st.sampled_from(["attributions.npz", "meta.json"]), st.data())
def test_explain_folder_with_mutated_bytes(name, data):
    files = dict(valid_explain_folder())
    files[name] = data.draw(byte_mutations(files[name]))
    _load_folder(files)


# ---------------------------------------------------------------- chunk files of an interrupted explain job

@functools.cache
def interrupted_job() -> tuple[str, dict[str, bytes]]:
    """A toy checkpoint and the chunk files of an explain job of it (4 sequences, chunks of 2) that
    stopped before its merge, as a killed run leaves them."""
    from glmxai.jobs import explain as xai_job

    from xai_toys import save_toy_checkpoint

    folder = Path(tempfile.mkdtemp())
    ckpt = str(save_toy_checkpoint(folder / "toy.ckpt"))
    job = xai_job.prepare(_chunked_job(ckpt, folder / "job"))
    xai_job.explain_chunks(job, job.chunk_ids())
    return ckpt, {p.name: p.read_bytes() for p in sorted((folder / "job" / "chunks").glob("*.npz"))}


def _chunked_job(ckpt: str, out: Path):
    from conftest import SMALL_DATA, compose_config

    return compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "xai=ism", "explain.n=4",
                                      "explain.chunk_size=2", "explain.threads=1", "logger=none"], out)


CHUNK_KEYS = ["index", "scores", "probs", "extra_delta", "evaluations", "seconds", "fast_forward", "fast_difference"]


@given(st.integers(0, 1), st.lists(st.tuples(st.sampled_from(CHUNK_KEYS), st.sampled_from(ARRAY_CHANGES)),
                                   min_size=1, max_size=3))
@example(1, [("extra_delta", "transpose")])
@example(0, [("scores", "nan")])
@example(1, [("seconds", "string")])
@example(0, [("scores", "bool")])
@example(1, [("extra_delta", "drop")])
def test_resumed_job_with_a_mutated_chunk(k, changes):
    """A re-run of an interrupted job reads its finished chunks back: a mutated one makes it refuse
    before any write (naming the chunk file), or the job finishes with a result that loads."""
    from glmxai.jobs import explain as xai_job
    from glmxai.store import load_npz, save_npz

    ckpt, chunks = interrupted_job()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "job"
        for name, data in chunks.items():
            _written(str(out / "chunks"), name, data)
        path = out / "chunks" / sorted(chunks)[k]
        arrays = load_npz(path)
        for key, change in changes:
            value = _changed(arrays[key], change) if key in arrays else None
            if value is None:
                arrays.pop(key, None)
            else:
                arrays[key] = value
        save_npz(path, arrays)
        meta = clean_outcome(lambda: xai_job.run(_chunked_job(ckpt, out)), path, out)
        if meta is not None:
            _check_run(load_run(out))


# ---------------------------------------------------------------- checkpoints

@functools.cache
def valid_checkpoint() -> bytes:
    """A small CNN checkpoint as train.py writes it, with the record of synthetic training data."""
    from glmxai.data.datamodule import SyntheticDataModule
    from glmxai.models.build import build_classifier

    from conftest import save_checkpoint

    model_cfg = {"name": "cnn", "tokenizer": {"_target_": "glmxai.models.tokenizers.OneHotTokenizer"},
                 "backbone": {"_target_": "glmxai.models.cnn.CNNBackbone", "seq_len": 300, "channels": [8, 8],
                              "kernel_sizes": [5, 3], "pool_sizes": [4, 4], "hidden": 8}}
    data = SyntheticDataModule(n_train=20, n_val=10, n_test=10, batch_size=8)
    module = build_classifier(model_cfg, data=data.provenance())
    with tempfile.TemporaryDirectory() as folder:
        path = save_checkpoint(module, Path(folder) / "best.ckpt")
        return path.read_bytes()


def _predicts(path: Path):
    """Load the checkpoint, rebuild the data it records (as explain does without data=) and predict
    two of its test sequences: what a user would get."""
    from glmxai.data.encoding import to_codes
    from glmxai.data.recorded import job_data
    from glmxai.models.build import load_classifier
    from glmxai.predictor import BatchedPredictor

    module = load_classifier(path)
    data = job_data(None, module.hparams.get("data") or {}, path)
    sequences = data.table("test").sequences[:2]
    logits, probs = BatchedPredictor(module.backbone.eval(), 8).promoter_logit_and_p(to_codes(sequences))
    return logits, probs


def _load_checkpoint(data: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "best.ckpt", data)
        result = clean_outcome(lambda: _predicts(path), path)
        if result is not None:
            logits, probs = result
            assert logits.shape == probs.shape == (2,) and np.isfinite(logits).all()


def _paths(node, prefix=()):
    """Every (path of keys) to a leaf or a mapping in a nested dict."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


@given(st.data())
def test_checkpoint_with_mutated_config(data):
    checkpoint = torch.load(_buffer(valid_checkpoint()), weights_only=True)
    paths = list(_paths(checkpoint["hyper_parameters"]))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths))
        holder = checkpoint["hyper_parameters"]
        for key in where[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if not isinstance(holder, dict):
            continue
        action = data.draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "drop":
            holder.pop(where[-1], None)
        elif action == "add":
            holder[f"extra_{where[-1]}"] = data.draw(odd_values())
        else:
            holder[where[-1]] = data.draw(odd_values())
    _load_checkpoint(_saved(checkpoint))


TENSOR_CHANGES = ["drop", "extra", "shape", "float16", "int64", "bool", "nan", "scalar", "empty"]


@given(st.lists(st.tuples(st.integers(0, 100), st.sampled_from(TENSOR_CHANGES)), min_size=1, max_size=3))
def test_checkpoint_with_mutated_tensors(changes):
    checkpoint = torch.load(_buffer(valid_checkpoint()), weights_only=True)
    state = checkpoint["state_dict"]
    for pick, change in changes:
        if not state:
            break
        key = sorted(state)[pick % len(state)]
        tensor = state[key]
        if change == "drop":
            del state[key]
        elif change == "extra":
            state[f"{key}_extra"] = tensor.clone()
        elif change == "shape":
            state[key] = torch.cat([tensor.reshape(-1), tensor.reshape(-1)[:1]]) if tensor.numel() else tensor[None]
        elif change in ("float16", "int64", "bool"):
            state[key] = tensor.to(getattr(torch, change))
        elif change == "nan":
            state[key] = tensor.float().fill_(math.nan)
        elif change == "scalar":
            state[key] = tensor.reshape(-1)[0] if tensor.numel() else torch.tensor(0.0)
        else:
            state[key] = tensor.reshape(-1)[:0]
    _load_checkpoint(_saved(checkpoint))


@given(st.data())
def test_checkpoint_with_mutated_bytes(data):
    _load_checkpoint(data.draw(byte_mutations(valid_checkpoint())))


def _buffer(data: bytes):
    import io

    return io.BytesIO(data)


def _saved(checkpoint: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- numbers on the command line

@functools.cache
def _explain_options() -> tuple[list[str], str]:
    """Every numeric option of explain.*, xai.* (each method) and data.* with a toy checkpoint."""
    from omegaconf import OmegaConf

    from conftest import SMALL_DATA, compose_config
    from xai_toys import save_toy_checkpoint

    folder = Path(tempfile.mkdtemp())
    ckpt = save_toy_checkpoint(folder / "toy.ckpt")
    options = []
    for method in ("ism", "ig", "lime", "shap", "anchor"):
        cfg = compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, f"xai={method}"], folder / "job")
        for group in ("explain", "xai", "data"):
            node = OmegaConf.to_container(cfg[group], resolve=True)
            options += [f"xai={method} {group}.{k}" for k, v in node.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return sorted(set(options)), str(ckpt)


NUMBERS = ["0", "-1", "-1000000000", "1e18", "nan", "inf", "0.5", "1000000000000000000000"]


@given(st.sampled_from(_explain_options()[0]), st.sampled_from(NUMBERS))
def test_explain_option_out_of_range(option, value):
    """Out-of-range numbers for explain, its methods and its data: a clear error naming the
    option before any work, or a job that can run."""
    from glmxai.jobs import explain as xai_job

    from conftest import SMALL_DATA, compose_config

    method, key = option.split(" ")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "job"
        cfg = compose_config("explain", [f"ckpt_path={_explain_options()[1]}", *SMALL_DATA, method, "explain.n=2",
                                         f"{key}={value}"], out)
        job = clean_outcome(lambda: xai_job.prepare(cfg), Path(key.split(".", 1)[1]), out)
        assert job is None or len(job.rows) >= 1


# ---------------------------------------------------------------- what the fuzz runs found, kept

def _explain_arrays(change) -> dict[str, bytes]:
    from glmxai.store import load_npz, save_npz

    files = dict(valid_explain_folder())
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "attributions.npz", files["attributions.npz"])
        arrays = load_npz(path)
        change(arrays)
        save_npz(path, arrays)
        files["attributions.npz"] = path.read_bytes()
    return files


def _meta(**changes) -> dict[str, bytes]:
    files = dict(valid_explain_folder())
    files["meta.json"] = json.dumps({**json.loads(files["meta.json"]), **changes}).encode()
    return files


def _checkpoint(change) -> bytes:
    checkpoint = torch.load(_buffer(valid_checkpoint()), weights_only=True)
    change(checkpoint)
    return _saved(checkpoint)


FOUND_FOLDERS = {
    "npz not a zip archive": lambda: {**valid_explain_folder(), "attributions.npz": b"PK\x03\x04 damaged"},
    "npz truncated": lambda: {**valid_explain_folder(),
                              "attributions.npz": valid_explain_folder()["attributions.npz"][:300]},
    "labels a 0-d array": lambda: _explain_arrays(lambda a: a.update(labels=np.asarray(1))),
    "scores as text": lambda: _explain_arrays(lambda a: a.update(scores=a["scores"].astype(str))),
    "NaN in scores": lambda: _explain_arrays(lambda a: a["scores"].__setitem__((0, 0), np.nan)),
    "a label 2": lambda: _explain_arrays(lambda a: a.update(labels=a["labels"] + 2)),
    "a negative row": lambda: _explain_arrays(lambda a: a.update(index=-a["index"] - 1)),
    "tss beyond the sequences": lambda: _meta(tss=10**9),
    "split not a split": lambda: _meta(split=5),
    "method not text": lambda: _meta(method=[]),
}
FOUND_CHECKPOINTS = {
    "NaN weights": lambda: _checkpoint(lambda c: next(v for v in c["state_dict"].values()
                                                      if v.is_floating_point()).fill_(math.nan)),
    "_target_ a list": lambda: _checkpoint(
        lambda c: c["hyper_parameters"]["model_cfg"]["backbone"].update(_target_=[1])),
    "recorded TSS where the generator's motifs do not fit": lambda: _checkpoint(
        lambda c: c["hyper_parameters"]["data"]["config"].update(tss=0)),
    "recorded seq_len negative": lambda: _checkpoint(
        lambda c: c["hyper_parameters"]["data"]["config"].update(seq_len=-1)),
    "backbone seq_len negative (torch refuses the layer)": lambda: _checkpoint(
        lambda c: c["hyper_parameters"]["model_cfg"]["backbone"].update(seq_len=-1)),
    "recorded n_test beyond any array": lambda: _checkpoint(
        lambda c: c["hyper_parameters"]["data"]["config"].update(n_test=2**62)),
}


@pytest.mark.parametrize("finding", sorted(FOUND_FOLDERS))
def test_found_explain_folders_fail_cleanly(finding):
    with tempfile.TemporaryDirectory() as folder:
        for name, data in FOUND_FOLDERS[finding]().items():
            _written(folder, name, data)
        assert clean_outcome(lambda: load_run(Path(folder)), Path(folder)) is None


@pytest.mark.parametrize("finding", sorted(FOUND_CHECKPOINTS))
def test_found_checkpoints_fail_cleanly(finding):
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "best.ckpt", FOUND_CHECKPOINTS[finding]())
        assert clean_outcome(lambda: _predicts(path), path) is None


def test_found_annotation_flag_that_is_not_a_flag_is_named():
    """A NUL in one flag made its column text: asking for that flag names the file and why."""
    from glmxai.data.table import SequenceDataError

    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "test_epd.csv", valid_annotations().replace(b"3,ID3,1", b"3,ID3,\x00"))
        with pytest.raises(SequenceDataError, match=f"{path}: 'tata_box' is not a flag column \\(a value other"):
            flags_of(read_annotations(path), np.arange(3), "tata_box")


@pytest.mark.parametrize("option", ["xai=ism explain.batch_size=nan", "xai=ism explain.num_shards=nan",
                                    "xai=ism data.seq_len=1e18", "xai=ism data.tss=0", "xai=ism data.n_test=0.5",
                                    "xai=anchor data.data_seed=-1", "xai=lime xai.kernel_width=0",
                                    "xai=ig data.shift_augment=1000000000000000000000"])
def test_found_options_fail_cleanly_before_work(option):
    from glmxai.jobs import explain as xai_job

    from conftest import SMALL_DATA, compose_config

    method, override = option.split(" ")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "job"
        cfg = compose_config("explain", [f"ckpt_path={_explain_options()[1]}", *SMALL_DATA, method, "explain.n=2",
                                         override], out)
        assert clean_outcome(lambda: xai_job.prepare(cfg), Path(override.split("=")[0].split(".", 1)[1]), out) is None


@pytest.mark.parametrize("data", [b"\x80ow,epdnew_ids,tata_box\n0,A,1\n", b"row,tata_box\n\xc2\xb2,1\n",
                                  b"row,tata_box\n0,1\n0,0\n", b"row,ID4,0,0\n5,ID5,1,0\n"],
                         ids=["not UTF-8", "superscript digit row", "row twice", "a column name twice"])
def test_found_annotation_tables_fail_cleanly(data):
    with tempfile.TemporaryDirectory() as folder:
        path = _written(folder, "test_epd.csv", data)
        assert clean_outcome(lambda: read_annotations(path), path) is None


PROBE_OPTIONS = ["probes.n_backgrounds", "probes.instances", "probes.n_bootstrap", "probes.batch_size",
                 "probes.position_scan.n_backgrounds", "probes.position_scan.stride", "probes.spacing.stride",
                 "probes.spacing.radius", "probes.necessity.n_sequences", "probes.necessity.shuffles",
                 "probes.necessity.max_hits", "probes.necessity.window"]


@given(st.sampled_from(PROBE_OPTIONS), st.sampled_from(NUMBERS))
def test_probe_option_out_of_range(option, value):
    """Out-of-range numbers for the probes: a clear error naming the option before any model
    work, or a plan that can run."""
    from glmxai.motifs import build_motifs
    from glmxai.probes.job import prepare_probes

    from conftest import compose_config

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        cfg = compose_config("analyze", ["probes.enabled=true", "probes=[synthetic,cpu]", "audit.enabled=false",
                                         f"probes.checkpoints=[{_explain_options()[1]}]", "data=synthetic",
                                         "data.n_train=50", "data.n_val=10", "data.n_test=10", f"{option}={value}"],
                             out)
        plan = clean_outcome(lambda: prepare_probes(cfg, [], build_motifs([], 1e-4, 0.5)), Path(option), out)
        assert plan is None or len(plan.models) == 1
