"""The floor a trained model must beat: bag-of-k-mers logistic regression on a GUE folder.

    python benchmarks/kmer_floor.py ../shared/data/gue/prom_300_all [--k 6]

Fits on train.csv (C chosen on dev.csv), prints test accuracy, macro F1 and MCC.
"""
import argparse

from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from glmxai.data.datamodule import GueDataModule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--k", type=int, default=6)
    args = parser.parse_args()
    data = GueDataModule(root=args.root)
    train, dev, test = (data.table(s) for s in ("train", "val", "test"))
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(args.k, args.k), lowercase=False)
    x_train = vectorizer.fit_transform(train.sequences)
    best = max((LogisticRegression(C=c, max_iter=3000).fit(x_train, train.labels) for c in (0.01, 0.1, 1.0)),
               key=lambda m: matthews_corrcoef(dev.labels, m.predict(vectorizer.transform(dev.sequences))))
    pred = best.predict(vectorizer.transform(test.sequences))
    print(f"bag-of-{args.k}-mers logistic regression (C={best.C}) on {args.root}: "
          f"test acc {accuracy_score(test.labels, pred):.3f}  "
          f"macro F1 {f1_score(test.labels, pred, average='macro'):.3f}  "
          f"MCC {matthews_corrcoef(test.labels, pred):.3f}")


if __name__ == "__main__":
    main()
