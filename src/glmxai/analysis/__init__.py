"""Analyses of explanations and data: motif calls, dataset audit, attribution at motifs,
k-mer tables, method agreement, faithfulness, ground truth, motif discovery, and the report."""
