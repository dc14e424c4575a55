"""Tokenizers of every model, all behind ``glmxai.models.base.Tokenizer``.

``OneHotTokenizer`` (the CNN) returns ``{"one_hot": (B, 4, L)}``, each base its own token. Every
other tokenizer returns ``{"input_ids": (B, T) long, "attention_mask": (B, T) long}``, right
padded, and maps each token back to the nucleotides it covers with ``token_spans`` (B, T, 2):
[start, end) in the input string, (-1, -1) for special and padding tokens.

- ``KmerTokenizer`` (DNABERT): overlapping k-mers, ``[CLS] k-mers [SEP]``; a k-mer with ``N``
  is ``[UNK]``; vocabulary 5 specials + 4^k k-mers.
- ``BPETokenizer`` (DNABERT-2): byte-pair encoding trained with HF ``tokenizers`` on the
  training sequences (or read from a published ``tokenizer.json``), ``[CLS] ... [SEP]``.
- ``NTKmerTokenizer`` (Nucleotide Transformer): ``<cls>`` then non-overlapping 6-mers from the
  left; a base that cannot start a full ``ACGT`` 6-mer (near an ``N`` or at the end) is a
  single-nucleotide token.
- ``CharTokenizer`` (HyenaDNA): one token per nucleotide, then ``[SEP]``.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, pre_tokenizers, processors, trainers

from glmxai.data.encoding import ALPHABET, ALPHABET_N, codes_to_one_hot, one_hot, to_codes
from glmxai.models.base import Tokenizer

log = logging.getLogger(__name__)

Piece = tuple[str, int, int]  # (token, start, end); start = end = -1 for special tokens


def _pad_batch(rows: list[list[int]], spans: list[list[tuple[int, int]]], pad_id: int):
    """Right-pad token ids (B, T), attention mask (B, T) and spans (B, T, 2)."""
    width = max((len(r) for r in rows), default=0)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    span_t = torch.full((len(rows), width, 2), -1, dtype=torch.long)
    for i, (row, span) in enumerate(zip(rows, spans)):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
        if span:
            span_t[i, : len(span)] = torch.tensor(span, dtype=torch.long)
    return ids, mask, span_t


class VocabTokenizer(Tokenizer):
    """A tokenizer over a fixed token list; subclasses split one sequence into ``Piece``s.

    vocab: tokens in id order (a published ``vocab.txt`` read line by line gives the same).
    """

    pad_token = "[PAD]"
    unk_token = "[UNK]"
    SPECIALS: tuple[str, ...] = ()

    def __init__(self, vocab: Sequence[str]):
        self._set_vocab(list(vocab))

    def _set_vocab(self, vocab: list[str]) -> None:
        self.vocab = vocab
        self.token_to_id = {tok: i for i, tok in enumerate(vocab)}
        self.vocab_size = len(vocab)
        self.pad_token_id = self.token_to_id[self.pad_token]
        self.unk_token_id = self.token_to_id[self.unk_token]

    def pieces(self, sequence: str) -> list[Piece]:
        raise NotImplementedError

    def _batch(self, sequences: Sequence[str]):
        rows, spans = [], []
        for seq in sequences:
            pieces = self.pieces(seq.upper())
            rows.append([self.token_to_id.get(tok, self.unk_token_id) for tok, _, _ in pieces])
            spans.append([(s, e) for _, s, e in pieces])
        return _pad_batch(rows, spans, self.pad_token_id)

    def encode(self, sequences: Sequence[str]) -> dict[str, torch.Tensor]:
        ids, mask, _ = self._batch(sequences)
        return {"input_ids": ids, "attention_mask": mask}

    def token_spans(self, sequences: Sequence[str]) -> torch.Tensor:
        return self._batch(sequences)[2]

    def decode(self, input_ids: Sequence[int]) -> list[str]:
        """Token ids -> token strings (padding dropped)."""
        return [self.vocab[i] for i in input_ids if i != self.pad_token_id]

    def state_dict(self) -> dict:
        return {"vocab": list(self.vocab)}

    def load_state_dict(self, state: dict) -> None:
        if state.get("vocab"):
            self._set_vocab(list(state["vocab"]))

    def token_advance(self) -> np.ndarray:
        """Bases (V,) each token id moves the sequence on: its length, 0 for special tokens,
        1 for the unknown token (it stands for one unreadable piece)."""
        advance = np.array([len(tok) for tok in self.vocab], dtype=np.int64)
        advance[[self.token_to_id[tok] for tok in self.SPECIALS if tok in self.token_to_id]] = 0
        advance[self.unk_token_id] = 1
        return advance

    def save_vocab(self, folder: str | Path) -> None:
        """Write ``vocab.txt`` (one token per line, in id order), the HF BERT/ESM format."""
        Path(folder, "vocab.txt").write_text("\n".join(self.vocab) + "\n")

    @classmethod
    def from_vocab_file(cls, folder: str | Path) -> VocabTokenizer:
        """A tokenizer over the token list of a published ``vocab.txt``."""
        tokenizer = cls()
        tokenizer._set_vocab(Path(folder, "vocab.txt").read_text().splitlines())
        return tokenizer


class KmerTokenizer(VocabTokenizer):
    """DNABERT's overlapping k-mers: a sequence of length L gives L-k+1 k-mers between [CLS] and [SEP].

    Token i covers nucleotides [i, i+k). Sequences shorter than k give only [CLS] [SEP].
    """

    SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

    def __init__(self, k: int = 6):
        if k < 1:
            raise ValueError(f"k must be positive, got {k}")
        self.k = k
        super().__init__([*self.SPECIALS, *("".join(p) for p in itertools.product(ALPHABET, repeat=k))])

    def pieces(self, sequence: str) -> list[Piece]:
        k = self.k
        kmers = [(sequence[i : i + k], i, i + k) for i in range(len(sequence) - k + 1)]
        return [("[CLS]", -1, -1), *kmers, ("[SEP]", -1, -1)]

    def _set_vocab(self, vocab: list[str]) -> None:
        super()._set_vocab(vocab)
        self._kmer_table = None

    def token_advance(self) -> np.ndarray:
        """Overlapping k-mers each move the sequence on by one base ([UNK] stands for a k-mer)."""
        return np.minimum(super().token_advance(), 1)

    def _kmer_ids(self) -> np.ndarray:
        """Token id of every k-mer over ACGTN, indexed by its codes read as a base-5 number."""
        if self._kmer_table is None:  # reset whenever the vocabulary (and with it k) is set
            kmers = ("".join(p) for p in itertools.product(ALPHABET_N, repeat=self.k))
            self._kmer_table = np.array([self.token_to_id.get(t, self.unk_token_id) for t in kmers], dtype=np.int64)
        return self._kmer_table

    def encode(self, sequences: Sequence[str]) -> dict[str, torch.Tensor]:
        """Sequences of one length go through ``encode_codes`` (a table lookup, ~50x faster than
        tokenizing k-mer by k-mer: a training epoch of 47,356 sequences spent a minute here)."""
        if sequences and len({len(s) for s in sequences}) == 1 and len(sequences[0]) >= self.k:
            return self.encode_codes(to_codes([s.upper() for s in sequences]))
        return super().encode(sequences)

    def encode_codes(self, codes: np.ndarray) -> dict[str, torch.Tensor]:
        """Integer codes (N, L) -> the ids ``encode`` gives their strings, by table lookup."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.shape[1] < self.k:
            return super().encode_codes(codes)
        windows = np.lib.stride_tricks.sliding_window_view(codes, self.k, axis=1)
        kmers = self._kmer_ids()[windows @ (5 ** np.arange(self.k - 1, -1, -1))]
        cls, sep = (np.full((len(codes), 1), self.token_to_id[t], dtype=np.int64) for t in ("[CLS]", "[SEP]"))
        ids = torch.from_numpy(np.concatenate([cls, kmers, sep], axis=1))
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def state_dict(self) -> dict:
        return {"k": self.k, **super().state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.k = int(state.get("k", self.k))
        super().load_state_dict(state)

    @classmethod
    def from_vocab_file(cls, folder: str | Path) -> KmerTokenizer:
        """Read ``vocab.txt`` of a published DNABERT; k is the length of its k-mer tokens."""
        vocab = Path(folder, "vocab.txt").read_text().splitlines()
        k = len(next(tok for tok in vocab if tok not in cls.SPECIALS))
        tokenizer = cls(k=k)
        tokenizer._set_vocab(vocab)
        return tokenizer


class NTKmerTokenizer(VocabTokenizer):
    """Nucleotide Transformer: ``<cls>``, then 6-mers taken greedily from the left; a position
    where no full ``ACGT`` k-mer starts (an ``N`` inside, or fewer than k bases left) gives a
    single-nucleotide token and the scan moves on by one base."""

    pad_token = "<pad>"
    unk_token = "<unk>"
    SPECIALS = ("<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>")

    def __init__(self, k: int = 6):
        self.k = k
        kmers = ("".join(p) for p in itertools.product(ALPHABET, repeat=k))
        super().__init__([*self.SPECIALS, *kmers, *ALPHABET_N])

    def pieces(self, sequence: str) -> list[Piece]:
        out: list[Piece] = [("<cls>", -1, -1)]
        i, k = 0, self.k
        while i < len(sequence):
            chunk = sequence[i : i + k]
            step = k if len(chunk) == k and "N" not in chunk else 1
            out.append((sequence[i : i + step], i, i + step))
            i += step
        return out


class CharTokenizer(Tokenizer):
    """HyenaDNA's character tokenizer: one token per nucleotide, then ``[SEP]``.

    Ids follow the published HyenaDNA vocabulary: [CLS]=0 [SEP]=1 [BOS]=2 [MASK]=3 [PAD]=4
    [RESERVED]=5 [UNK]=6 A=7 C=8 G=9 T=10 N=11.
    """

    VOCAB = ("[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", *ALPHABET_N)
    vocab_size = len(VOCAB)
    pad_token_id = 4
    sep_token_id = 1
    _first_base_id = 7  # codes A=0 .. N=4 map to 7 .. 11

    def encode_codes(self, codes: np.ndarray) -> dict[str, torch.Tensor]:
        codes = torch.as_tensor(np.atleast_2d(codes).astype(np.int64))
        sep = torch.full((codes.shape[0], 1), self.sep_token_id, dtype=torch.long)
        ids = torch.cat([codes + self._first_base_id, sep], dim=1)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def encode(self, sequences: Sequence[str]) -> dict[str, torch.Tensor]:
        if len({len(s) for s in sequences}) == 1:
            return self.encode_codes(to_codes(list(sequences)))
        rows = [(to_codes(s).astype(np.int64) + self._first_base_id).tolist() + [self.sep_token_id]
                for s in sequences]
        ids, mask, _ = _pad_batch(rows, [[] for _ in rows], self.pad_token_id)
        return {"input_ids": ids, "attention_mask": mask}

    def decode(self, input_ids: Sequence[int]) -> list[str]:
        """Token ids -> token strings (padding dropped)."""
        return [self.VOCAB[i] for i in input_ids if i != self.pad_token_id]

    def token_advance(self) -> np.ndarray:
        """One base per nucleotide token (and [UNK]), none for the other special tokens."""
        return np.array([int(tok in ALPHABET_N or tok == "[UNK]") for tok in self.VOCAB], dtype=np.int64)

    def token_spans(self, sequences: Sequence[str]) -> torch.Tensor:
        width = max((len(s) for s in sequences), default=0) + 1
        spans = torch.full((len(sequences), width, 2), -1, dtype=torch.long)
        for i, seq in enumerate(sequences):
            pos = torch.arange(len(seq))
            spans[i, : len(seq)] = torch.stack([pos, pos + 1], dim=-1)
        return spans


class BPETokenizer(Tokenizer):
    """DNABERT-2's byte-pair encoding over nucleotides, trained with HF ``tokenizers``.

    vocab_size: target vocabulary (4096 as published); the trained tokenizer (its JSON) is the
    state saved in checkpoints, so a fine-tuned model needs no retraining to be reloaded.
    """

    needs_fit = True
    SPECIALS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")
    PROGRESS_FROM = 10_000  # sequences from which training shows its progress

    def __init__(self, vocab_size: int = 4096, min_frequency: int = 2):
        self.target_vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.hf: HFTokenizer | None = None

    def fit(self, sequences: Sequence[str]) -> None:
        tok = HFTokenizer(models.BPE(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(vocab_size=self.target_vocab_size, min_frequency=self.min_frequency,
                                      special_tokens=list(self.SPECIALS), initial_alphabet=list(ALPHABET_N),
                                      show_progress=len(sequences) >= self.PROGRESS_FROM)
        if len(sequences) >= self.PROGRESS_FROM:  # about a minute for 47,356 sequences of 300 bp on a CPU
            log.info("training a BPE of %d pieces on %d sequences", self.target_vocab_size, len(sequences))
        tok.train_from_iterator((s.upper() for s in sequences), trainer=trainer)
        self._set(tok)

    def _set(self, tok: HFTokenizer) -> None:
        cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
        tok.no_truncation()
        self.pad_token_id = tok.token_to_id("[PAD]")
        tok.enable_padding(pad_id=self.pad_token_id, pad_token="[PAD]")
        self.hf = tok
        self.vocab_size = tok.get_vocab_size()

    def _encodings(self, sequences: Sequence[str]):
        if self.hf is None:
            raise RuntimeError("BPETokenizer is not trained: call fit(train_sequences) or load_state_dict")
        return self.hf.encode_batch([s.upper() for s in sequences])

    def encode(self, sequences: Sequence[str]) -> dict[str, torch.Tensor]:
        enc = self._encodings(sequences)
        return {"input_ids": torch.tensor([e.ids for e in enc], dtype=torch.long).reshape(len(enc), -1),
                "attention_mask": torch.tensor([e.attention_mask for e in enc], dtype=torch.long).reshape(len(enc), -1)}

    def token_spans(self, sequences: Sequence[str]) -> torch.Tensor:
        enc = self._encodings(sequences)
        spans = torch.tensor([e.offsets for e in enc], dtype=torch.long).reshape(len(enc), -1, 2)
        special = torch.tensor([e.special_tokens_mask for e in enc], dtype=torch.bool).reshape(len(enc), -1)
        return spans.masked_fill(special.unsqueeze(-1), -1)

    def decode(self, input_ids: Sequence[int]) -> list[str]:
        """Token ids -> token strings (padding dropped)."""
        return [self.hf.id_to_token(i) for i in input_ids if i != self.pad_token_id]

    def token_advance(self) -> np.ndarray:
        """Bases (V,) each token id covers: its length, 0 for special tokens, 1 for [UNK]."""
        advance = np.zeros(self.vocab_size, dtype=np.int64)
        for token, index in self.hf.get_vocab().items():
            advance[index] = len(token)
        advance[[self.hf.token_to_id(tok) for tok in self.SPECIALS if self.hf.token_to_id(tok) is not None]] = 0
        advance[self.hf.token_to_id("[UNK]")] = 1
        return advance

    def state_dict(self) -> dict:
        return {"tokenizer_json": self.hf.to_str()} if self.hf is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if state.get("tokenizer_json"):
            self._set(HFTokenizer.from_str(state["tokenizer_json"]))

    def save(self, folder: str | Path) -> None:
        """Write ``tokenizer.json`` (the HF ``tokenizers`` format DNABERT-2 publishes)."""
        self.hf.save(str(Path(folder, "tokenizer.json")))

    @classmethod
    def from_file(cls, folder: str | Path) -> BPETokenizer:
        """Read a published ``tokenizer.json``; its own post-processor is replaced by [CLS] $A [SEP]."""
        tok = HFTokenizer.from_str(Path(folder, "tokenizer.json").read_text())
        tokenizer = cls(vocab_size=tok.get_vocab_size())
        tokenizer._set(tok)
        return tokenizer


class OneHotTokenizer(Tokenizer):
    """Nucleotide one-hot (B, 4, L); every position is its own token."""

    vocab_size = 4

    def encode(self, sequences: Sequence[str]) -> dict[str, torch.Tensor]:
        return {"one_hot": one_hot(list(sequences))}

    def encode_codes(self, codes: np.ndarray) -> dict[str, torch.Tensor]:
        return {"one_hot": codes_to_one_hot(codes)}

    def token_spans(self, sequences: Sequence[str]) -> torch.Tensor:
        length = len(sequences[0]) if len(sequences) else 0
        starts = torch.arange(length)
        spans = torch.stack([starts, starts + 1], dim=-1)
        return spans.expand(len(sequences), length, 2).clone()
