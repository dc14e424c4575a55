"""The method registry: ``@register("name")`` on a ``Method`` subclass in any module of
``glmxai.xai`` plus ``conf/xai/<name>.yaml`` is all a new method needs.

A method's config (``cfg.xai``) is ``name`` plus the keyword arguments of its constructor.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
from collections.abc import Iterator, Mapping
from typing import ClassVar

import numpy as np

from glmxai.options import Number, check_numbers
from glmxai.predictor import BatchedPredictor
from glmxai.xai.records import Attribution

METHODS: dict[str, type[Method]] = {}


class Method:
    """An explanation method bound to a model.

    records_file: name of the JSON-lines file its ``Attribution.record`` go to (None: none);
    score_units: what its scores measure (meta.json ``score_units``); signed: False for scores
    that rank importance without a direction (attention: non-negative), which faithfulness then
    orders by score for either predicted class instead of flipping them (meta.json ``signed``);
    reads_predictions: False for methods whose scores come from gradients or attention maps, not
    from p(promoter) calls, so that ``explain.fast`` leaves them alone.
    """

    name: str = ""
    numbers: ClassVar[dict[str, Number]] = {}  # the range of each numeric parameter (xai.<name>), checked first
    records_file: str | None = None
    score_units: str = "p(promoter); positive = toward the promoter class (label 1)"
    signed: bool = True
    reads_predictions: bool = True

    def __init__(self, model: BatchedPredictor, tss: int):
        self.model = model
        self.tss = tss

    def check_length(self, length: int) -> None:
        """Raise ValueError if the method's parameters make no sense for sequences of ``length`` bp."""

    def explain(self, codes: np.ndarray, probs: np.ndarray, rngs: list[np.random.Generator]) -> list[Attribution]:
        """Explain sequences ``codes`` (B, L) whose unperturbed p(promoter) is ``probs`` (B,);
        ``rngs``: one generator per sequence, so results do not depend on batching."""
        return [self.explain_one(x, float(p), rng) for x, p, rng in zip(codes, probs, rngs)]

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        """Explain one sequence ``codes`` (L,) with unperturbed p(promoter) ``prob``."""
        raise NotImplementedError


def register(name: str):
    """Class decorator adding a ``Method`` subclass to the registry under ``name``."""

    def add(cls: type[Method]) -> type[Method]:
        cls.name = name
        METHODS[name] = cls
        return cls

    return add


def _discover() -> None:
    package = importlib.import_module("glmxai.xai")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"glmxai.xai.{module.name}")


def known_methods() -> list[str]:
    """The names of every registered method."""
    _discover()
    return sorted(METHODS)


def get_method(name: str) -> type[Method]:
    """The registered class of method ``name``; ValueError naming the known ones if none."""
    if name not in METHODS:
        _discover()
    if name not in METHODS:
        raise ValueError(f"unknown explanation method {name!r}; known: {sorted(METHODS)}")
    return METHODS[name]


def build_method(cfg: Mapping, model: BatchedPredictor, tss: int) -> Method:
    """Instantiate the method of config ``cfg`` (``name`` + constructor keywords) on ``model``."""
    params = dict(cfg)
    cls = get_method(str(params.pop("name", None)))
    check_numbers(params, {k: v for klass in reversed(cls.__mro__) for k, v in vars(klass).get("numbers", {}).items()},
                  "xai")
    try:  # the parameters checked against the signature: a TypeError inside the constructor stays one
        inspect.signature(cls).bind(model, tss=tss, **params)
    except TypeError as error:
        raise ValueError(f"xai={cls.name}: bad parameters {sorted(params)}: {error}") from None
    return cls(model, tss=tss, **params)


@contextlib.contextmanager
def numpy_global_seed(rng: np.random.Generator) -> Iterator[int]:
    """Seed numpy's global random state from ``rng`` for libraries that use it (shap,
    anchor-exp); the previous state is restored afterwards. Yields the seed."""
    state = np.random.get_state()
    seed = int(rng.integers(2**32 - 1))
    np.random.seed(seed)
    try:
        yield seed
    finally:
        np.random.set_state(state)
