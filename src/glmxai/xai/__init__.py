"""Explanations of promoter predictions: LIME, SHAP, Anchors, saturation mutagenesis and
integrated gradients behind one registry (``glmxai.xai.registry``).

Every method returns per-nucleotide scores (L,) toward the promoter class (label 1), in
units of p(promoter); ``glmxai.jobs.explain`` runs a method over a selection of sequences and
writes ``attributions.npz`` + ``meta.json`` (see docs/explain.md).
"""
