#!/usr/bin/env bash
# Re-make every docs page whose numbers the shipped network or the presence settings feed,
# each with the command its page gives (held-out seeds, tuning seeds where the page tunes). The presence
# tuning page (docs/evaluation/presence-tuning-neural.md) is the record of the decision that
# set the thresholds, so it is not re-made here.
# Run it after shipping a model, changing a [presence] default or changing the front end's
# frames beyond bit for bit (benchmarks/compare_outputs.py says); then update the prose that
# quotes these pages (docs/evaluation.md, docs/music.md, docs/calibration.md, the model card).
#
# Usage: bash docs/rerun_heldout.sh [--quick]
#   --quick: the quiet-room run over its first 10 h instead of 315 h (2 min instead of 46), and the
#            rare-event homes over 3 h instead of 30; neither partial run replaces its page.
# 83 min on 2 cores with --quick (timed 2026-12-06: the held-out comparisons 21 min, benign
# rooms 10, music 13, calibration 3, duty cycle 16 and the live soak 19, each on one core);
# without it the quiet rooms add about 45 min and the rare-event homes about 25. Each step prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet_hours=315
rare_hours=30
[ "${1:-}" = "--quick" ] && quiet_hours=10 && rare_hours=3
seed=src/uspd/models/seed.fp32.onnx

step() {  # description, then the command
    local what=$1; shift
    echo "== $what: $*"
    local start=$SECONDS
    "$@" > /dev/null
    echo "   done in $((SECONDS - start)) s"
}

for run in "0 compare" "0 compare-calibrated --calibrated" "1000 compare-calibrated-1000 --calibrated"; do
    set -- $run
    step "held-out comparison $2" uspd evaluate --hours 6 --scenes-per-kind 24 --workers 2 --seed-offset "$1" "${@:3}" \
        --out "docs/evaluation/$2" --detector baseline --detector "seed=$seed" --detector neural
done
step "benign rooms" uspd evaluate --hours 40 --scenes-per-kind 0 --distractor pest_repeller --distractor keys_paper \
    --workers 2 --detector neural --out docs/evaluation/benign-rooms
step "music, 7 mics" uspd music-study --hours 1 --walk-scenes 32 --seed-offset 1000 --workers 2 \
    --out docs/music --figure docs/img/music_before_after.png
for array in single laptop_2; do
    step "music, $array" uspd music-study --hours 1 --walk-scenes 32 --seed-offset 1000 --array "$array" --workers 2 \
        --out "docs/music/$array" --figure "docs/img/music_before_after_$array.png"
done
step "music regression" python benchmarks/music_regression.py --hours 1 --scenes-per-kind 4 --out docs/music/regression
step "calibration tuning" python benchmarks/tune_calibration.py --units 30 --out docs/calibration/tuning.md
step "calibration study" uspd calibrate --study --units 50 --out docs/calibration
rm -rf docs/dutycycle/windows  # its cached windows hold the old chain's results
step "duty cycle" uspd dutycycle --seed 1000001 --out docs/dutycycle
step "live soak" python benchmarks/soak_live.py --hours 24 --seed 7 --out docs/soak-live.md
quiet_out=docs/evaluation/quiet-rooms
[ "$quiet_hours" = 315 ] || quiet_out=/tmp/uspd-quiet-rooms-${quiet_hours}h  # a partial run does not replace the page
step "quiet rooms (${quiet_hours} h)" uspd evaluate --hours "$quiet_hours" --scenes-per-kind 0 --distractor quiet \
    --workers 2 --detector neural --out "$quiet_out"
rare_out=docs/evaluation/rare-homes
[ "$rare_hours" = 30 ] || rare_out=/tmp/uspd-rare-homes-${rare_hours}h
step "rare-event homes (${rare_hours} h)" uspd evaluate --hours "$rare_hours" --scenes-per-kind 24 \
    --distractor rare_events_home --workers 2 --out "$rare_out" --detector baseline --detector "seed=$seed" \
    --detector neural --detector seed-s0=candidates/labeled48-pets240-seed0/seed.fp32.onnx \
    --detector final-s0=candidates/labeled48-pets240-seed0/motion.fp32.onnx \
    --detector first-seed=candidates/first-shipped/seed.fp32.onnx \
    --detector first-final=candidates/first-shipped/motion.fp32.onnx
echo "all pages re-made; git diff docs/ shows what moved"
