"""Motif probes (global importance analysis): plant a pattern into many background sequences
and measure how the model's promoter logit and p(promoter) change, at the canonical position,
over every position, in pairs at varying spacing, in several copies, and, in real promoters,
when a motif hit is destroyed. ``glmxai.probes.job`` plans and runs the probes resumably,
``glmxai.probes.section`` writes the report section (see docs/analyze.md, "Motif probes")."""
