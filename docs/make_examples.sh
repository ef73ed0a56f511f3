#!/usr/bin/env bash
# Re-make the example spectrograms in docs/img/ (docs/simulator.md) from the scenario catalog.
# Usage: bash docs/make_examples.sh [work dir for the large WAVs, default /tmp/uspd-examples]
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/uspd-examples}"
mkdir -p "$work" docs/img
printf '[simulation]\nmax_order_moving = 0\n' > "$work/direct_only.toml"

render() {  # name scenario seed [extra simulate options]
    local name=$1 scenario=$2 seed=$3; shift 3
    uspd simulate "$scenario" --seed "$seed" --duration 15 --out "$work/$name.wav" "$@" > /dev/null
    uspd plot "$work/$name.wav" --out "docs/img/$name.png" > /dev/null
    echo "docs/img/$name.png  <- uspd simulate $scenario --seed $seed --duration 15 $*"
}

render walk_in             walk_in         2
render walk_through        walk_through    3
render walk_through_walls  walk_through    2
render walk_through_direct_only walk_through 2 --config "$work/direct_only.toml"
render empty_fan           empty_fan       3
render curtain_draft       curtain_draft   3
render music_with_walk     music_with_walk 1
render music_masking       music_with_walk 4

# A 256-colour palette keeps each PNG near 100 kB; nothing else changes.
python - <<'PY'
from pathlib import Path
from PIL import Image
for png in Path("docs/img").glob("*.png"):
    Image.open(png).convert("RGB").quantize(256).save(png, optimize=True)
PY
