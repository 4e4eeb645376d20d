#!/usr/bin/env bash
# One short, prepared device check: 4K x4 round trip (fp32, bf16, bf16 + channels-last) with
# frames/s, peak memory and achieved TFLOP/s against the chip's peak, then the training-step
# split with the memory and the disk loader, then a real Ray Tune sweep of 4 trials sharing
# the card (--gpus-per-trial 0.25; NVML telemetry in MLflow's system metrics, the report
# built) and its combined training speed against one process alone (bench.sweep_share).
# JSON results land in $OUT (default ./gpu_check).
#
#   bash bench/gpu_check.sh              # on a GPU: about 3-4 minutes on one H200 (estimated)
#
# The same command runs unchanged on a CPU: it then times a 256x256 image in fp32 (bf16 only
# where the CPU has native bf16), says it skipped the GPU sweep and runs it at the smoke
# budget; SIZE=4k TILE=1024 OVERLAP=64 gives the tiled 4K CPU run,
# which takes many minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)  # absolute: the sweep's sqlite URI and storage need it
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=${RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER:-0}
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled}
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
echo "== sweep: the main job's 4 groups, 1 seed each, sharing the device"
if [ "$BUDGET" = gpu ]; then  # 4 trials on one card, a few hundred steps each
    SWEEP=(--budget gpu --set "steps=${SWEEP_STEPS:-300}" --set eval_points=2
           --set val_max_size=256 --gpus-per-trial 0.25 --cpus-per-trial "${CPUS_PER_TRIAL:-3}")
else
    echo "   no CUDA device: the GPU sweep is skipped; the same path runs at the smoke budget"
    SWEEP=(--budget smoke --cpus-per-trial 1)
fi
# MLflow store and Ray results under $OUT: the trials' system metrics (NVML on a GPU) and the
# sweep's report.html (an artifact of its parent run) come back with it
timeout 400 "$PY" -m bench.sweep search_spaces/losses.py --seeds 1 "${SWEEP[@]}" \
    --tracking-uri "sqlite:///$OUT/mlflow.db" --storage "$OUT/ray" \
    --experiment gpu-check --json "$OUT/sweep.json"
echo "== one process alone, the same budget at x2, against the trials together"
timeout 300 "$PY" -m bench.profile --budget "$BUDGET" --steps 10 --warmup 3 \
    --json "$OUT/profile_x2.json" > "$OUT/profile_x2.txt"
"$PY" -m bench.sweep_share "$OUT/sweep.json" "$OUT/profile_x2.json" --json "$OUT/sweep_share.json"
find "$OUT" -name report.html -exec cp {} "$OUT/report.html" \;
echo "results in $OUT/"
