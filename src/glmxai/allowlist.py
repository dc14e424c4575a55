"""Building objects from configs read from files (checkpoints, result folders).

A file may come from someone else, so nothing in it may choose code to run. Configs from the
command line are instantiated by Hydra (``_target_``) as usual; a config read from a file goes
through ``build`` instead, which accepts only the classes listed here, each with the types of
the arguments it may take. Anything else (another class, a ``_partial_``/``_args_``/
``_recursive_`` key, a nested ``_target_``, an unknown or mistyped argument) is refused with
an error naming the file and the key, before any object is built or any module imported.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Keys of a published or stored transformers config that select code: remote modelling code,
# attention kernels fetched from a hub, quantisation back ends.
CODE_SELECTING_CONFIG_KEYS = frozenset({"auto_map", "attn_implementation", "_attn_implementation",
                                        "_attn_implementation_internal", "trust_remote_code",
                                        "quantization_config", "custom_pipelines"})
# Hydra keys that only change how a call is made; the allow-listed classes never need them.
_IGNORED_HYDRA_KEYS = frozenset({"_convert_"})


class UntrustedConfigError(ValueError):
    """A config read from a file asks for something outside the allow-list; names file and key."""

    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem} (refused before building anything: configs read from "
                         "files may only name glmxai's own classes with plain arguments)")
        self.source, self.key = source, key


class StoredConfigError(ValueError):
    """A config read from a file names an allowed class with values it refuses; names file and key."""


@dataclass(frozen=True)
class Arg:
    """One argument type: ``accepts(value)`` and how the error describes it."""

    accepts: Callable[[Any], bool]
    expected: str


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_plain(value: Any) -> bool:
    """JSON data (None, bool, int, float, str, lists and str-keyed dicts of these), with no
    Hydra special key (``_target_``, ``_partial_``, ...) and no code-selecting config key at any depth."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and not (k.startswith("_") and k.endswith("_"))
                   and k not in CODE_SELECTING_CONFIG_KEYS and _is_plain(v) for k, v in value.items())
    return False


INT = Arg(_is_int, "an integer")
NUMBER = Arg(lambda v: _is_int(v) or isinstance(v, float), "a number")
STRING = Arg(lambda v: isinstance(v, str), "a string")
BOOL = Arg(lambda v: isinstance(v, bool), "true or false")
INT_LIST = Arg(lambda v: isinstance(v, (list, tuple)) and all(_is_int(x) for x in v), "a list of integers")
PLAIN = Arg(_is_plain, "plain data (numbers, strings, lists, mappings) without _target_ or code-selecting keys")


def optional(arg: Arg) -> Arg:
    return Arg(lambda v: v is None or arg.accepts(v), f"{arg.expected} or null")


@dataclass(frozen=True)
class Allowed:
    """An allow-listed class (its full import path) and the arguments it may take."""

    target: str
    args: Mapping[str, Arg]

    def load(self) -> type:
        module, name = self.target.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)


def allow(target: str, **args: Arg) -> tuple[str, Allowed]:
    return target, Allowed(target, args)


_DATA_ARGS = {"task": optional(STRING), "seq_len": optional(INT), "tss": INT, "batch_size": INT, "num_workers": INT,
              "seed": INT, "shift_augment": INT, "added_negatives": optional(PLAIN)}
_HF_ARGS = {"size": STRING, "config": optional(PLAIN)}

TOKENIZERS: dict[str, Allowed] = dict([
    allow("glmxai.models.tokenizers.OneHotTokenizer"),
    allow("glmxai.models.tokenizers.KmerTokenizer", k=INT),
    allow("glmxai.models.tokenizers.NTKmerTokenizer", k=INT),
    allow("glmxai.models.tokenizers.CharTokenizer"),
    allow("glmxai.models.tokenizers.BPETokenizer", vocab_size=INT, min_frequency=INT),
    allow("glmxai.models.toys.TripletTokenizer"),
])
BACKBONES: dict[str, Allowed] = dict([
    allow("glmxai.models.cnn.CNNBackbone", seq_len=INT, channels=INT_LIST, kernel_sizes=INT_LIST,
          pool_sizes=INT_LIST, hidden=INT, dropout=NUMBER),
    allow("glmxai.models.dnabert.DNABERTBackbone", **_HF_ARGS, pooling=STRING, seq_len=optional(INT)),
    allow("glmxai.models.nt.NTBackbone", **_HF_ARGS, pooling=STRING, seq_len=optional(INT)),
    allow("glmxai.models.nt2.NT2Backbone", **_HF_ARGS, pooling=STRING, seq_len=optional(INT)),
    allow("glmxai.models.dnabert2.DNABERT2Backbone", **_HF_ARGS, pooling=STRING, seq_len=optional(INT)),
    allow("glmxai.models.hyenadna.HyenaDNABackbone", **_HF_ARGS, pooling=STRING, seq_len=optional(INT)),
    allow("glmxai.models.toys.MotifDetector", seq_len=INT, start=INT, motif=STRING),
    allow("glmxai.models.toys.TokenMotifDetector", start=INT, motif=STRING),
])
# Checkpoints written before OneHotTokenizer moved to glmxai.models.tokenizers name its old place.
TOKENIZERS["glmxai.models.base.OneHotTokenizer"] = TOKENIZERS["glmxai.models.tokenizers.OneHotTokenizer"]
DATA_MODULES: dict[str, Allowed] = dict([
    allow("glmxai.data.datamodule.GueDataModule", root=STRING, **_DATA_ARGS),
    allow("glmxai.data.datamodule.CsvDataModule", path=STRING, **_DATA_ARGS),
    allow("glmxai.data.datamodule.SyntheticDataModule", n_train=INT, n_val=INT, n_test=INT, data_seed=INT, decoys=INT,
          displace=BOOL, **_DATA_ARGS),
])


def check(node: Any, allowed: Mapping[str, Allowed], source: str, key: str) -> tuple[Allowed, dict[str, Any]]:
    """The allow-listed class ``node`` names and its checked keyword arguments; raises
    ``UntrustedConfigError`` (naming ``source`` and ``key``) for anything else."""
    if not isinstance(node, Mapping):
        raise UntrustedConfigError(source, key, f"expected a mapping with _target_, found {type(node).__name__}")
    target = node.get("_target_")
    if not isinstance(target, str) or target not in allowed:
        raise UntrustedConfigError(source, f"{key}._target_", f"{target!r} is not one of the allowed classes "
                                                              f"{sorted(allowed)}")
    spec, kwargs = allowed[target], {}
    for name, value in node.items():
        if name == "_target_" or name in _IGNORED_HYDRA_KEYS:
            continue
        where = f"{key}.{name}"
        if not isinstance(name, str) or name not in spec.args:
            raise UntrustedConfigError(source, where, f"{target} takes no such argument "
                                                      f"(allowed: {sorted(spec.args) or 'none'})")
        if not spec.args[name].accepts(value):
            raise UntrustedConfigError(source, where, f"expected {spec.args[name].expected}, found {value!r:.120}")
        kwargs[name] = value
    return spec, kwargs


def build(node: Any, allowed: Mapping[str, Allowed], source: str, key: str, **injected: Any) -> Any:
    """Check ``node`` (see ``check``), then build its class with the checked arguments and
    ``injected`` (objects the caller built, such as the tokenizer of a backbone)."""
    spec, kwargs = check(node, allowed, source, key)
    try:
        return spec.load()(**kwargs, **injected)
    except (ValueError, RuntimeError) as error:  # a value of the right type its class (or torch) refuses
        raise StoredConfigError(f"{source}: {key}: {error}") from None
