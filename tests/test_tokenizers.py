"""Tokenizers of the four gLMs: vocabularies, round trips and token-to-nucleotide maps."""
from __future__ import annotations

import io

import pytest
import torch

from glmxai.data.encoding import to_codes
from glmxai.models.tokenizers import BPETokenizer, CharTokenizer, KmerTokenizer, NTKmerTokenizer

from conftest import random_sequences


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    tok = BPETokenizer(vocab_size=300)
    tok.fit(random_sequences(200, 300))
    return tok


def all_tokenizers(bpe) -> list:
    return [KmerTokenizer(k=6), KmerTokenizer(k=3), NTKmerTokenizer(), CharTokenizer(), bpe]


# Odd lengths, an N inside, N at the ends, a sequence shorter than 6, and one all N.
EDGE_SEQUENCES = ["ACGTACGTA", "ACGNTTGCAAGT", "NACGTACGTACGN", "ACG", "NNNNNNN", "T" * 43]


def test_vocabulary_sizes(bpe):
    assert KmerTokenizer(k=6).vocab_size == 4**6 + 5
    assert KmerTokenizer(k=3).vocab_size == 4**3 + 5
    assert KmerTokenizer().vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert NTKmerTokenizer().vocab_size == 6 + 4**6 + 5
    assert CharTokenizer().vocab_size == 12
    assert bpe.vocab_size <= 300 and bpe.hf.token_to_id("N") is not None


@pytest.mark.parametrize("index", range(5))
def test_spans_point_at_the_tokens_nucleotides(bpe, index):
    """Every non-special token's span is the substring it was made from; specials and padding are (-1, -1);
    spans align with input_ids, and the attention mask marks exactly the non-padding tokens."""
    tok = all_tokenizers(bpe)[index]
    seqs = EDGE_SEQUENCES + random_sequences(3, 31, seed=index)
    enc = tok.encode(seqs)
    spans = tok.token_spans(seqs)
    assert spans.shape[:2] == enc["input_ids"].shape and spans.dtype == torch.long
    for i, seq in enumerate(seqs):
        ids = enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist()
        assert (enc["input_ids"][i][~enc["attention_mask"][i].bool()] == tok.pad_token_id).all()
        strings = tok.decode(ids)
        for token, (start, end) in zip(strings, spans[i, : len(ids)].tolist()):
            if start == -1:
                assert end == -1 and token in ("[CLS]", "[SEP]", "<cls>")
            elif token not in ("[UNK]", "<unk>"):
                assert seq[start:end] == token
        assert (spans[i, len(ids):] == -1).all()


def test_kmer_tokens_overlap_and_n_is_unknown():
    tok = KmerTokenizer(k=3)
    enc = tok.encode(["ACGNT"])
    assert tok.decode(enc["input_ids"][0].tolist()) == ["[CLS]", "ACG", "[UNK]", "[UNK]", "[SEP]"]
    assert tok.token_spans(["ACGNT"])[0].tolist() == [[-1, -1], [0, 3], [1, 4], [2, 5], [-1, -1]]
    # round trip: the first base of every k-mer plus the rest of the last one rebuilds the sequence
    seq = random_sequences(1, 57)[0]
    kmers = tok.decode(tok.encode([seq])["input_ids"][0].tolist())[1:-1]
    assert len(kmers) == len(seq) - 2 and "".join(k[0] for k in kmers) + kmers[-1][1:] == seq
    assert tok.decode(tok.encode(["AC"])["input_ids"][0].tolist()) == ["[CLS]", "[SEP]"]


def test_nt_tokens_are_non_overlapping_6mers_with_single_leftovers():
    tok = NTKmerTokenizer()
    seq = "ACGTACGTACGTAN" + "GGGCCC" + "TT"  # 14 = 2 x 6 + A + N, then a full 6-mer, then 2 leftovers
    tokens = tok.decode(tok.encode([seq])["input_ids"][0].tolist())
    assert tokens == ["<cls>", "ACGTAC", "GTACGT", "A", "N", "GGGCCC", "T", "T"]
    spans = tok.token_spans([seq])[0].tolist()
    assert spans[0] == [-1, -1] and spans[3] == [12, 13] and spans[-1] == [21, 22]
    assert "".join(tokens[1:]) == seq  # round trip


def test_char_tokenizer_ids_and_codes_path():
    tok = CharTokenizer()
    enc = tok.encode(["ACGTN"])
    assert enc["input_ids"].tolist() == [[7, 8, 9, 10, 11, 1]]
    assert torch.equal(tok.encode_codes(to_codes(["ACGTN"]))["input_ids"], enc["input_ids"])
    ragged = tok.encode(["ACG", "A"])
    assert ragged["input_ids"].tolist() == [[7, 8, 9, 1], [7, 1, 4, 4]]
    assert ragged["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert tok.decode(ragged["input_ids"][1].tolist()) == ["A", "[SEP]"]
    assert tok.token_spans(["ACG", "A"])[1].tolist() == [[0, 1], [-1, -1], [-1, -1], [-1, -1]]


def test_bpe_round_trip_and_state(bpe):
    seqs = random_sequences(4, 300, seed=7) + ["ACGTNNACGT"]
    enc = bpe.encode(seqs)
    for i, seq in enumerate(seqs):
        ids = enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist()
        tokens = bpe.decode(ids)
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "".join(tokens[1:-1]) == seq
    assert max(len(t) for t in bpe.decode(enc["input_ids"][0].tolist())) > 1  # merges were learnt
    # the state goes through a weights_only checkpoint and rebuilds the same tokenizer without fitting
    buffer = io.BytesIO()
    torch.save(bpe.state_dict(), buffer)
    buffer.seek(0)
    restored = BPETokenizer()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(restored.encode(seqs)["input_ids"], enc["input_ids"])
    assert torch.equal(restored.token_spans(seqs), bpe.token_spans(seqs))


def test_unfitted_bpe_refuses_to_encode():
    with pytest.raises(RuntimeError, match="not trained"):
        BPETokenizer().encode(["ACGT"])


def test_vocab_file_round_trip(tmp_path):
    tok = KmerTokenizer(k=4)
    tok.save_vocab(tmp_path)
    restored = KmerTokenizer.from_vocab_file(tmp_path)
    assert restored.k == 4 and restored.vocab == tok.vocab
    state = KmerTokenizer(k=6)
    state.load_state_dict(tok.state_dict())
    assert state.k == 4 and torch.equal(state.encode(["ACGTAC"])["input_ids"], tok.encode(["ACGTAC"])["input_ids"])
