"""The floor a trained model must beat: a bag of k-mers (or of a model's own tokens) with
logistic regression on a GUE folder.

    python benchmarks/kmer_floor.py ../shared/data/gue/prom_300_all [--k 6]
    python benchmarks/kmer_floor.py ../shared/data/gue/prom_300_all --tokens nt          (NT's 6-mers)
    python benchmarks/kmer_floor.py ../shared/data/gue/prom_300_all --tokens bpe --vocab-size 256

``--tokens kmers`` (default) counts every overlapping k-mer; ``nt`` counts the non-overlapping
6-mers NT reads (one frame); ``bpe`` the pieces of DNABERT-2's BPE fitted on train.csv. Fits on
train.csv (C chosen on dev.csv), prints test accuracy, macro F1 and MCC.
"""
import argparse

from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from glmxai.data.datamodule import GueDataModule
from glmxai.models.tokenizers import BPETokenizer, NTKmerTokenizer


def token_documents(tokenizer, sequences: list[str]) -> list[list[int]]:
    """The token ids of each sequence, special tokens and padding left out."""
    inputs = tokenizer.encode(sequences)
    nucleotide = tokenizer.token_advance() > 0
    return [[i for i in row if nucleotide[i]] for row in inputs["input_ids"].tolist()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--tokens", choices=("kmers", "nt", "bpe"), default="kmers")
    parser.add_argument("--vocab-size", type=int, default=4096, help="BPE vocabulary (--tokens bpe)")
    args = parser.parse_args()
    data = GueDataModule(root=args.root, seq_len=None, tss=0)  # a bag of k-mers reads any length; no positions
    train, dev, test = (data.table(s) for s in ("train", "val", "test"))
    if args.tokens == "kmers":
        vectorizer = CountVectorizer(analyzer="char", ngram_range=(args.k, args.k), lowercase=False)
        documents = {"train": train.sequences, "dev": dev.sequences, "test": test.sequences}
        what = f"bag-of-{args.k}-mers"
    else:
        tokenizer = NTKmerTokenizer(k=6) if args.tokens == "nt" else BPETokenizer(vocab_size=args.vocab_size)
        if tokenizer.needs_fit:
            tokenizer.fit(train.sequences)
        vectorizer = CountVectorizer(analyzer=lambda ids: ids)
        documents = {name: token_documents(tokenizer, table.sequences)
                     for name, table in (("train", train), ("dev", dev), ("test", test))}
        what = ("bag of NT's non-overlapping 6-mers" if args.tokens == "nt"
                else f"bag of BPE pieces (vocabulary {tokenizer.vocab_size})")
    x_train = vectorizer.fit_transform(documents["train"])
    x_dev, x_test = vectorizer.transform(documents["dev"]), vectorizer.transform(documents["test"])
    best = max((LogisticRegression(C=c, max_iter=3000).fit(x_train, train.labels) for c in (0.01, 0.1, 1.0)),
               key=lambda m: matthews_corrcoef(dev.labels, m.predict(x_dev)))
    pred = best.predict(x_test)
    print(f"{what}, logistic regression (C={best.C}) on {args.root}: "
          f"dev MCC {matthews_corrcoef(dev.labels, best.predict(x_dev)):.3f}  "
          f"test acc {accuracy_score(test.labels, pred):.3f}  "
          f"macro F1 {f1_score(test.labels, pred, average='macro'):.3f}  "
          f"MCC {matthews_corrcoef(test.labels, pred):.3f}  ({x_train.shape[1]:,} features)")


if __name__ == "__main__":
    main()
