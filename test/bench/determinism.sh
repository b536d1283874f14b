#!/usr/bin/env bash
# Determinism check of issue 12: the same command twice, the second time beside CPU-bound processes;
# every table / variant file must have the same sha256.
#   test/bench/determinism.sh train WORKDIR   edgerec train on ml-100k into WORKDIR/A, then WORKDIR/B beside 1 busy process
#   test/bench/determinism.sh bundle WORKDIR  edgerec bundle (the default bundle, as npm start) from WORKDIR/A, then WORKDIR/B beside 2
#   test/bench/determinism.sh compare WORKDIR only compares WORKDIR/A with WORKDIR/B
# Each run starts from an empty folder (the bundle's data/default-run lives under its working directory).
set -euo pipefail
mode=$1
work=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/bin/edgerec.mjs"
[ "$mode" = compare ] || { rm -rf "$work" && mkdir -p "$work/A" "$work/B"; }

run() { # run NAME BUSY
  local name=$1 busy=$2 pids=()
  for _ in $(seq 1 "$busy"); do timeout 7200 node -e 'for(;;);' & pids+=($!); done
  uptime > "$work/$name.load"
  if [ "$mode" = train ]; then
    /usr/bin/time -v node "$bin" train --data "$root/../shared/datasets/ml-100k/u.data" --format movielens \
      --out "$work/$name/run" --quiet --json > "$work/$name.json" 2> "$work/$name.err"
  else
    (cd "$work/$name" && /usr/bin/time -v node "$bin" bundle --out models --quiet --json > "$work/$name.json" 2> "$work/$name.err")
  fi
  for pid in "${pids[@]}"; do kill "$pid"; done
}

case $mode in
  train) run A 0; run B 1 ;;
  bundle) run A 0; run B 2 ;;
  compare) ;;
  *) echo "usage: $0 train|bundle|compare WORKDIR" >&2; exit 2 ;;
esac

# Compare every binary file by its path inside the run folder (a bundle's version folder is named by its hash).
cd "$work"
status=0
while read -r file; do
  rel=${file#A/}
  other="B/$rel"
  case $rel in models/*) other=$(ls B/models/*/"$(basename "$rel")" 2>/dev/null || echo missing) ;; esac
  a=$(sha256sum "$file" | cut -c1-64)
  b=$( [ -f "$other" ] && sha256sum "$other" | cut -c1-64 || echo missing)
  [ "$a" = "$b" ] && echo "same    $a  $rel" || { echo "DIFFERS $a $b  $rel"; status=1; }
done < <(find A -type f \( -name '*.f32' -o -name '*.bin' -o -name '*.onnx' -o -name '*.f16' -o -name '*.i8' \) \
  -not -path '*/checkpoint/*' -not -path '*/data/default/*' | sort)
exit $status
