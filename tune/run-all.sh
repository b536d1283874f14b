#!/usr/bin/env bash
# Runs every grid of notes/tune.md in sequence; each writes tune/results/<data>-<model>-<protocol>.json.
# Usage: bash tune/run-all.sh [name ...]   (names: ml100k-bpr, synthetic-bpr, ml100k-itemknn, …)
set -euo pipefail
cd "$(dirname "$0")/.."
ML=../shared/datasets/ml-100k/u.data
GAMES=../shared/datasets/amazon-games/sequences.txt
SYN=.cache/tune/synthetic
[ -f "$SYN/events.jsonl" ] || node bin/edgerec.mjs data gen --out "$SYN" --quiet
mkdir -p tune/results
run() {
  local name=$1 data=$2 format=$3 model=$4 protocol=$5
  shift 5
  node bin/edgerec.mjs tune --data "$data" --format "$format" --model "$model" --grid "tune/${model_grid:-$model}.json" \
    --protocol "$protocol" --seed 0 --json --quiet "$@" >"tune/results/$name.json"
  echo "$name done"
}
for name in "${@:-ml100k-itemknn ml100k-bpr synthetic-itemknn synthetic-bpr ml100k-gnn}"; do
  for n in $name; do
    case $n in
      ml100k-itemknn) run $n $ML movielens itemknn sasrec ;;
      ml100k-bpr) run $n $ML movielens bpr sasrec ;;
      ml100k-bpr-full) model_grid=bpr-full run $n $ML movielens bpr full --metric Recall@20 ;;
      games-bpr-full) model_grid=bpr-games-full run $n $GAMES sequences bpr full --metric Recall@20 ;;
      synthetic-bpr-temporal) model_grid=bpr-synthetic-temporal run $n $SYN/events.jsonl events bpr temporal --metric Recall@20 ;;
      synthetic-itemknn) run $n $SYN/events.jsonl events itemknn sasrec ;;
      synthetic-bpr) run $n $SYN/events.jsonl events bpr sasrec ;;
      ml100k-gnn) run $n $ML movielens gnn item2item --metric MRR ;;
      ml100k-gnn-20steps) model_grid=gnn-20steps run $n $ML movielens gnn item2item --metric MRR ;;
      synthetic-gnn) run $n $SYN/events.jsonl events gnn item2item --metric MRR ;;
      *) echo "unknown grid run $n" >&2; exit 2 ;;
    esac
  done
done
