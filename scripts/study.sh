#!/bin/bash
# The study of docs/study.md: explain every trained model of RUNS on an EPD-stratified selection of its
# test split with the given methods, then one analyze run over all of it. Every explain job resumes
# when re-run (same folder); finished jobs are skipped in seconds.
#
#   scripts/study.sh explain MODEL_RUN METHOD...   one model (a run folder under RUNS), several methods
#   scripts/study.sh analyze                       the report over every explain job under RUNS/explain
#
# RUNS (default runs): the training runs (RUNS/<task>/<model>/checkpoints/best.ckpt) and the explain
# jobs (RUNS/explain/<task>-<model>-<method>). DATA (default ../shared/data/gue): the GUE folders.
# prom_core_all has no EPD flags of its own: those of the same promoters in prom_300_all_full are
# carried to RUNS/annotations/prom_core_all (scripts/transfer_annotations.py) on first use.
# One thread per job (OMP_NUM_THREADS=1): run two at once on a 2-core machine.
set -euo pipefail
RUNS=${RUNS:-runs}
DATA=${DATA:-../shared/data/gue}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} WANDB_MODE=${WANDB_MODE:-offline}

annotations_of() {  # the EPD flag folder of a training run's task
  case "$1" in
    prom_300_all/*) echo "$DATA/prom_300_all_full" ;;
    prom_300_tata/*) echo "$DATA/prom_300_tata" ;;
    prom_core_all/*)  # no EPD flags of its own: those of the same promoters in prom_300_all_full, by their core
      [[ -f $RUNS/annotations/prom_core_all/test_epd.csv ]] || python scripts/transfer_annotations.py \
        "$DATA/prom_300_all_full" 249 "$DATA/prom_core_all" 33 "$RUNS/annotations/prom_core_all" >&2
      echo "$RUNS/annotations/prom_core_all" ;;
    *) echo "no EPD flags known for $1" >&2; exit 2 ;;
  esac
}

case "${1:-}" in
  explain)
    model=$2; shift 2
    notes=$(annotations_of "$model")
    # every EPD TATA+ promoter of the split, as many TATA- promoters and as many negatives; prom_300_tata's
    # promoters are all TATA+, so there the Inr flag splits them
    flag=tata_box; [[ $model == prom_300_tata/* ]] && flag=inr
    for method in "$@"; do
      python explain.py ckpt_path="$RUNS/$model/checkpoints/best.ckpt" xai="$method" explain.threads=1 \
        explain.selection=annotated explain.n=null explain.annotations="$notes" explain.stratify_by=$flag \
        logger=none hydra.run.dir="$RUNS/explain/${model//\//-}-$method"
    done ;;
  analyze)
    # necessity on 200 promoters a group, the probes' insertions only, no faithfulness: about 20 minutes
    python analyze.py "inputs=[$RUNS/explain]" "train_runs=[$RUNS/prom_300_all,$RUNS/prom_300_tata]" \
      annotations.dir=data annotations.max_per_group=200 \
      "shortcut.sets=[$DATA/prom_300_all_full/shuffled_negatives.csv]" \
      probes.enabled=true probes=cpu "probes.experiments=[insertion]" faithfulness.enabled=false \
      data=gue_prom_300_all data.root="$DATA/prom_300_all_full" hydra.run.dir="$RUNS/study" "${@:2}" ;;
  *) sed -n 2,11p "$0"; exit 2 ;;
esac
