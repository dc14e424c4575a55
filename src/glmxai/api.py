"""The Python API, for notebooks: load a checkpoint, predict, explain, plant motifs, run the
probes and read results back, through the code paths of ``train.py``, ``explain.py`` and
``analyze.py`` (docs/api.md).

    from glmxai import api
    ckpt = api.train(["data.n_train=2000"], "out/cnn")      # train.py's job; its best checkpoint
    model = api.load_model(ckpt)                             # or any train.py checkpoint
    test = api.load_split(model, "test")                     # the data it was trained on
    p = api.predict(model, test.sequences)                   # (N,) p(promoter)
    result = api.explain(model, sequences, "shap")           # Explanation: scores (N, L), ...
    moved = api.plant(model, sequences, "TATAAAAG", -31)     # Planted: logit change (N,)
    run = api.explain_split(ckpt, "ism", "out/ism", ["explain.n=50"])   # explain.py's job, read back
    tables = api.probe(ckpt, "out/probes", ["probes.experiments=[insertion]"])
    run = api.read_results("out/ism")                        # any explain job folder
    fig = api.logo(result, 0, hits)                          # attribution logo, motif hits shaded

Method defaults are those of ``conf/xai/<method>.yaml``, composed by Hydra as on the command line;
``params`` override them like ``xai.<key>=<value>``. The security rules are the command line's:
checkpoints are read with ``weights_only=True`` through the allow-list, and a pretrained source's
own Python code runs only when the call says ``trust_remote_code=True``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf, open_dict

from glmxai.data.encoding import invalid_characters, to_codes
from glmxai.data.recorded import job_data
from glmxai.data.table import SequenceDataError, SequenceTable
from glmxai.explain_runs import ExplainRun, load_run
from glmxai.figures import attribution_logo
from glmxai.jobs.explain import explain_rows
from glmxai.jobs.explain import run as run_explain_job
from glmxai.models.build import load_classifier
from glmxai.models.classifier import SequenceClassifier
from glmxai.motifs import configured_motifs
from glmxai.predictor import BatchedPredictor
from glmxai.probes.experiments import Backgrounds, Target, measure
from glmxai.probes.job import prepare_probes, run_probes
from glmxai.probes.tables import ProbeTables, probe_tables
from glmxai.xai.registry import build_method

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def config(name: str, overrides: Sequence[str] = (), output_dir: str | Path | None = None) -> DictConfig:
    """``conf/<name>.yaml`` (``train``, ``explain``, ``analyze``) composed with Hydra ``overrides``
    as the command line would, its run folder set to ``output_dir``."""
    if not (CONF_DIR / f"{name}.yaml").is_file():
        raise FileNotFoundError(f"{CONF_DIR / f'{name}.yaml'}: glmxai's configs are read from the repository's "
                                "conf/ folder (install the package from its checkout: pip install -e .)")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides))
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def train(overrides: Sequence[str], output_dir: str | Path) -> Path:
    """``python train.py OVERRIDES`` with its run folder ``output_dir`` (resumable: the same call
    again continues a killed run, and returns at once from a finished one); the best checkpoint."""
    from glmxai.jobs.train import run as run_train_job

    cfg = config("train", ["logger=none", *overrides], output_dir)
    return Path(run_train_job(cfg)["checkpoint"])


@dataclass
class Model:
    """A trained checkpoint, loaded: ``classifier`` (eval mode), ``checkpoint`` path, ``name`` of
    the model config, and from the data record it carries ``task``, ``length`` (bp; None: any) and
    ``tss`` (0-based index; None when the checkpoint records no data)."""

    classifier: SequenceClassifier
    checkpoint: Path
    name: str
    task: str | None
    length: int | None
    tss: int | None
    data: dict = field(repr=False, default_factory=dict)

    def predictor(self, batch_size: int = 256) -> BatchedPredictor:
        """The one batched predict call every method sees the model through."""
        return BatchedPredictor(self.classifier.backbone, batch_size=batch_size)


def load_model(ckpt_path: str | Path, trust_remote_code: bool = False) -> Model:
    """A checkpoint of ``train.py`` with its data record (``weights_only=True``, allow-listed
    classes; remote code only with ``trust_remote_code``)."""
    classifier = load_classifier(ckpt_path, trust_remote_code=trust_remote_code)
    data = dict(classifier.hparams.get("data") or {})
    recorded = dict(data.get("config") or {})
    return Model(classifier, Path(ckpt_path), str(classifier.hparams["model_cfg"].get("name")), recorded.get("task"),
                 recorded.get("seq_len"), recorded.get("tss"), data)


def load_split(model: Model, split: str = "test") -> SequenceTable:
    """A split (``train``, ``val``/``dev``, ``test``) of the data the checkpoint records it was trained
    on, as explain reads it: ``sequences``, ``labels`` (N,) and, for synthetic data, ``masks`` (N, L)
    and the planted ``motifs``."""
    return job_data(None, model.data, model.checkpoint).table(split)


def _codes(model: Model, sequences: Sequence[str]) -> np.ndarray:
    """sequences -> codes (N, L), checked as explain checks its input: ACGTN (any case), one
    length, the model's length where it has one."""
    if isinstance(sequences, str) or not len(sequences):
        raise ValueError("expected a non-empty list of sequences, not " + ("one string" if sequences else "nothing"))
    source = "the sequences given"
    for i, sequence in enumerate(sequences):
        bad = invalid_characters(sequence) if sequence else [(0, "nothing")]
        if bad:
            raise SequenceDataError(source, f"sequence {i}: invalid character {bad[0][1]!r} at position {bad[0][0]} "
                                            "(allowed: ACGTN)")
    lengths = sorted({len(s) for s in sequences})
    if len(lengths) != 1:
        raise SequenceDataError(source, f"sequences must share one length, found lengths {lengths}")
    needed = model.classifier.backbone.fixed_length or model.length
    if needed is not None and lengths[0] != needed:
        raise SequenceDataError(source, f"sequences have length {lengths[0]}, the model needs exactly {needed}")
    return to_codes([s.upper() for s in sequences])


def predict(model: Model, sequences: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """p(promoter) (N,) float64 of ``sequences`` (N strings of one length, ACGTN)."""
    return model.predictor(batch_size).p_promoter(_codes(model, sequences))


@dataclass
class Explanation:
    """``method``'s explanation of N sequences of length L: ``scores`` (N, L) float32 toward the
    promoter class, ``probs`` (N,) p(promoter), the method's ``records`` (LIME/SHAP feature
    weights, anchor rules; empty otherwise) and ``arrays`` (per-sequence extras stacked: ISM
    ``delta`` (N, 4, L)); ``tss`` the index the scores were explained around."""

    method: str
    sequences: list[str]
    scores: np.ndarray
    probs: np.ndarray
    tss: int
    records: list[dict] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def _tss(model: Model, tss: int | None) -> int:
    if tss is None and model.tss is None:
        raise ValueError(f"{model.checkpoint} records no TSS: pass tss=<0-based index>")
    return int(model.tss if tss is None else tss)


def explain(model: Model, sequences: Sequence[str], method: str = "ism", params: Mapping | None = None, *,
            seed: int = 0, rows: Sequence[int] | None = None, tss: int | None = None,
            batch_size: int = 256) -> Explanation:
    """Explain ``sequences`` with a registered ``method`` at the defaults of ``conf/xai/<method>.yaml``
    (``params`` override them). Sequence i draws its randomness from ``(seed, rows[i])`` (rows:
    0..N-1 unless given) as explain.py's row of a split does, so given a split's rows and explain's
    seed the scores equal explain.py's. ``tss``: the checkpoint's unless given."""
    overrides = [f"xai={method}", *(f"xai.{key}={value}" for key, value in (params or {}).items())]
    xai_cfg = OmegaConf.to_container(config("explain", overrides).xai, resolve=True)
    codes = _codes(model, sequences)
    predictor = model.predictor(batch_size)
    explainer = build_method(xai_cfg, predictor, tss=_tss(model, tss))
    explainer.check_length(codes.shape[1])
    probs = predictor.p_promoter(codes)
    rows = np.arange(len(codes)) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.shape != (len(codes),):
        raise ValueError(f"rows: expected one row number per sequence ({len(codes)}), got shape {rows.shape}")
    results = explain_rows(explainer, codes, probs, rows, seed)
    arrays = {name: np.stack([r.arrays[name] for r in results]) for name in results[0].arrays}
    return Explanation(explainer.name, list(sequences), np.stack([r.scores for r in results]).astype(np.float32),
                       probs, explainer.tss, [r.record for r in results if r.record is not None], arrays)


@dataclass
class Planted:
    """A motif planted at ``position`` (start, bp relative to the TSS) of N sequences: the change of
    the promoter ``logit`` and of ``prob`` (N,) against the unplanted sequences."""

    motif: str
    position: int
    logit: np.ndarray
    prob: np.ndarray


def plant(model: Model, sequences: Sequence[str], motif: str, position: int, *, tss: int | None = None,
          batch_size: int = 256) -> Planted:
    """Replace the bases at ``position`` (start relative to the TSS) of every sequence with
    ``motif`` (ACGT; length and every other base kept) and measure the change, as the probes'
    insertion experiment does."""
    codes = _codes(model, sequences)
    if not motif or set(motif.upper()) - set("ACGT"):
        raise ValueError(f"motif {motif!r}: expected bases A, C, G, T")
    motif_codes = to_codes(motif.upper())
    target = Target(model.predictor(batch_size), _tss(model, tss), codes.shape[1])
    logit, prob = target.model.promoter_logit_and_p(codes)
    change = measure(target, Backgrounds("given", codes, logit, prob), [[(motif_codes[None], target.tss + position)]])
    return Planted(motif.upper(), position, change["logit"][0], change["prob"][0])


def logo(explanation: Explanation, i: int, hits: pd.DataFrame | None = None,
         span: tuple[int, int] | None = None, title: str | None = None):
    """The report's attribution logo of sequence ``i`` of ``explanation`` (a matplotlib Figure):
    letter height = score of the observed base over ``span`` (bp vs TSS; the whole sequence by
    default), ``hits`` (rows of ``start``, ``end`` (0-based, end exclusive), ``motif``, ``strand``;
    ``glmxai.motifs.scan`` writes them) shaded and named."""
    hits = pd.DataFrame(columns=["start", "end", "motif", "strand"]) if hits is None else hits
    title = title or f"{explanation.method}, sequence {i}, p(promoter) {explanation.probs[i]:.2f}"
    return attribution_logo(explanation.sequences[i], explanation.scores[i], hits, explanation.tss, title, span)


def explain_split(ckpt_path: str | Path, method: str, output_dir: str | Path, overrides: Sequence[str] = (),
                  trust_remote_code: bool = False) -> ExplainRun:
    """``python explain.py ckpt_path=CKPT xai=METHOD OVERRIDES`` into ``output_dir`` (resumable:
    the same call again skips finished chunks), read back with ``read_results``."""
    cfg = config("explain", [f"ckpt_path={ckpt_path}", f"xai={method}", "logger=none", *overrides], output_dir)
    with open_dict(cfg):
        cfg.model.trust_remote_code = trust_remote_code
    run_explain_job(cfg)
    return read_results(output_dir)


def read_results(folder: str | Path) -> ExplainRun:
    """An explain job folder read back (checked like analyze's inputs): ``scores`` (N, L),
    ``sequences``, ``labels``, ``probs``, ``index`` (N,), ``meta`` and ``tss``."""
    return load_run(folder)


def probe(ckpt_path: str | Path, output_dir: str | Path, overrides: Sequence[str] = (),
          trust_remote_code: bool = False) -> ProbeTables:
    """The motif probes of ``analyze.py probes.enabled=true probes.checkpoints=[CKPT]`` (the CPU
    budget, ``probes=cpu``, unless ``overrides`` say otherwise): tables of the insertion, position
    scan, spacing, dose and necessity experiments (p-values as measured; analyze.py adjusts them
    over its whole report), their results kept in ``output_dir/probes`` (a second call resumes)."""
    cfg = config("analyze", ["probes=cpu", *overrides, "probes.enabled=true", f"probes.checkpoints=[{ckpt_path}]"],
                 output_dir)
    with open_dict(cfg):
        cfg.model.trust_remote_code = trust_remote_code
    motifs = configured_motifs(OmegaConf.to_container(cfg.motifs, resolve=True))
    return probe_tables(run_probes(prepare_probes(cfg, [], motifs)))
