#!/usr/bin/env bash
# One short, prepared device check: 4K x4 round trip (fp32, bf16, bf16 + channels-last) with
# frames/s, peak memory and achieved TFLOP/s against the chip's peak, then the training-step
# split with the memory and the disk loader. JSON results land in $OUT (default ./gpu_check).
#
#   bash bench/gpu_check.sh              # on a GPU: about 1-2 minutes on one H200
#
# The same command runs unchanged on a CPU: it then times a 256x256 image in fp32 (bf16 only
# where the CPU has native bf16); SIZE=4k TILE=1024 OVERLAP=64 gives the tiled 4K CPU run,
# which takes many minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    SIZE=${SIZE:-4k}; REPEATS=${REPEATS:-5}; WARMUP=${WARMUP:-2}; BUDGET=gpu
    LOW=$("$PY" -c 'import torch; print(int(torch.cuda.is_bf16_supported()))')
else
    SIZE=${SIZE:-256x256}; REPEATS=${REPEATS:-1}; WARMUP=${WARMUP:-0}; BUDGET=smoke
    LOW=$("$PY" -c 'from bench.throughput import fast_low_precision as f; print(int(f("bf16")))')
fi
TILES=()
[ -n "${TILE:-}" ] && TILES=(--tile "$TILE" --overlap "${OVERLAP:-64}")
"$PY" -c 'import torch; print("torch", torch.__version__, "| cuda:", torch.cuda.is_available() and torch.cuda.get_device_name(0))'
run() {  # name, extra args
    local name=$1; shift
    echo "== throughput $name"
    timeout 300 "$PY" -m bench.throughput --scale 4 --size "$SIZE" --repeats "$REPEATS" \
        --warmup "$WARMUP" "${TILES[@]}" "$@" --json "$OUT/throughput_$name.json"
}
run fp32 --dtype fp32
run fp32_cl --dtype fp32 --channels-last
if [ "$LOW" = 1 ]; then
    run bf16 --dtype bf16
    run bf16_cl --dtype bf16 --channels-last
else
    echo "== bf16 skipped: no native bf16 convolutions here"
fi
echo "== profile: memory vs disk loader (budget $BUDGET, x4)"
timeout 300 "$PY" -m bench.profile --budget "$BUDGET" --set scale=4 --steps 5 --warmup 2 \
    --compare-loaders --out "$OUT/profile" --json "$OUT/profile.json"
echo "results in $OUT/"
