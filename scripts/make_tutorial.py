"""Write docs/tutorial.ipynb (unexecuted) from the cells below; tests/test_tutorial.py executes it.

    python scripts/make_tutorial.py
"""
from pathlib import Path

import nbformat

CELLS = [
    ("markdown", """# glmxai from Python: train, explain, plant a motif

This tutorial uses the Python API (`glmxai.api`, [api.md](api.md)): the same code paths as `train.py`,
`explain.py` and `analyze.py`, with the method defaults of `conf/xai/*.yaml`. It trains a small CNN on
the embedded synthetic promoters (whose motif positions are known), explains a few promoters with ISM and
SHAP, draws an attribution logo with the planted motifs marked, plants a TATA box and watches the promoter
logit move; then the same on a GUE checkpoint. It runs in a few minutes on 2 CPU cores."""),
    ("code", """%matplotlib inline
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from IPython.display import display
from sklearn.metrics import roc_auc_score

from glmxai import api

torch.set_num_threads(2)
REPO = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "conf" / "train.yaml").is_file())
OUT = Path(tempfile.mkdtemp(prefix="glmxai-tutorial-"))  # run folders of this tutorial
print("repository:", REPO, "| run folders under:", OUT)"""),
    ("markdown", """## 1. Train the quick CNN on synthetic promoters

`api.train` is `python train.py` with the given overrides: it writes the run folder (checkpoint,
`metrics.json`) and returns the best checkpoint. In the synthetic data a sequence is a promoter when
TATA sits at -31 and the Inr at the TSS, or the GC-box at -60 and CCAAT at -90; every sequence carries
all four motifs, so only their positions tell the classes apart."""),
    ("code", """ckpt = api.train(["data.n_val=500", "data.n_test=500", "trainer.max_epochs=3",
                  "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"], OUT / "synthetic_cnn")
metrics = json.loads((ckpt.parents[1] / "metrics.json").read_text())
print(f"test MCC {metrics['test/mcc']:.3f}, AUROC {metrics['test/auroc']:.3f}")
model = api.load_model(ckpt)
test = api.load_split(model, "test")  # the data the checkpoint records, as explain.py reads it
print(model.name, "| TSS at index", model.tss, "|", len(test), "test sequences")"""),
    ("markdown", """## 2. Explain a few promoters with ISM and SHAP

`api.explain` returns scores (N, L) toward the promoter class. On synthetic data the generator's
mask says which positions make each label, so each explanation can be scored against it (AUROC of
|scores| for the motif positions)."""),
    ("code", """probs = api.predict(model, test.sequences)
chosen = [i for i in range(len(test)) if test.labels[i] == 1 and probs[i] > 0.5][:4]
sequences = [test.sequences[i] for i in chosen]
ism = api.explain(model, sequences, "ism")
shap = api.explain(model, sequences, "shap")
for name, result in (("ISM", ism), ("SHAP", shap)):
    auroc = [roc_auc_score(test.masks[i], np.abs(s)) for i, s in zip(chosen, result.scores)]
    print(f"{name}: ground-truth AUROC per sequence", np.round(auroc, 3))"""),
    ("markdown", """## 3. An attribution logo with the planted motifs marked

Letter height is the score of the observed base; the generator's planted motifs are shaded (those
that make this sequence a promoter and the decoys)."""),
    ("code", """first = chosen[0]
planted = pd.DataFrame([{**m, "motif": m["motif"] + ("" if m["functional"] else " decoy"), "strand": "+"}
                        for m in test.motifs if m["row"] == first])
fig = api.logo(ism, 0, planted, span=(-110, 20))
fig"""),
    ("markdown", """## 4. Plant a TATA box and watch the logit move

`api.plant` replaces the bases at a position (relative to the TSS) with a motif, as the probes'
insertion experiment does, and returns the change of the promoter logit per sequence. At -31 the
TATA box completes half of a promoter module; far upstream it should do little."""),
    ("code", """negatives = [s for s, y in zip(test.sequences, test.labels) if y == 0][:100]
for position in (-31, -150):
    moved = api.plant(model, negatives, "TATAAAAG", position)
    print(f"TATAAAAG at {position}: mean change of the promoter logit {moved.logit.mean():+.2f} "
          f"(p(promoter) {moved.prob.mean():+.3f})")"""),
    ("markdown", """## 5. The same on a GUE checkpoint

GUE prom_300_all (human EPD promoters against GUE's negatives); here its 4,736-row subset beside the
repository and two epochs of the CNN, enough to be well above chance. The TATA box is found with
JASPAR's TBP matrix (`glmxai.motifs`), as `analyze.py` finds it."""),
    ("code", """GUE = REPO.parent / "shared" / "data" / "gue" / "prom_300_all"
if not GUE.is_dir():
    print(f"{GUE} is not here: the GUE part is skipped")
else:
    from glmxai.motifs import build_motif, scan

    gue_ckpt = api.train(["data=gue_prom_300_all", f"data.root={GUE}", "trainer.max_epochs=2",
                          "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"],
                         OUT / "gue_cnn")
    gue_metrics = json.loads((gue_ckpt.parents[1] / "metrics.json").read_text())
    print(f"GUE subset, test MCC {gue_metrics['test/mcc']:.3f}")
    gue = api.load_model(gue_ckpt)
    gue_test = api.load_split(gue, "test")
    tbp = build_motif("MA0108", "TBP", pvalue=1e-3, strands="+", window=(-40, -20))
    hits = scan(gue_test.sequences, [tbp], gue.tss)
    at_31 = hits[hits["rel_start"].between(-36, -26)]
    rows = [r for r in at_31["row"].unique() if gue_test.labels[r] == 1][:3]
    result = api.explain(gue, [gue_test.sequences[r] for r in rows], "ism", rows=rows)
    display(api.logo(result, 0, hits[hits["row"] == rows[0]], span=(-60, 20)))
    promoters = [s for s, y in zip(gue_test.sequences, gue_test.labels) if y == 1][:100]
    moved = api.plant(gue, promoters, "TATAAAAG", -31)
    print(f"TATAAAAG at -31 in 100 GUE promoters: mean change of the promoter logit {moved.logit.mean():+.2f}")"""),
    ("markdown", """A TATA box planted at -31 may *lower* a GUE model's promoter logit: in GUE prom_300_all a TATA
box exactly at -31 comes about as often from a negative as from a promoter (docs/study.md). What a
model "uses" is measured on the data it learned from; `analyze.py` puts such findings beside EPD's
annotation and a shortcut test."""),
]


def main() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
                      for kind, text in CELLS]
    path = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"
    nbformat.write(notebook, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
