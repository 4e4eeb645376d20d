#!/usr/bin/env bash
# Issue 16's CPU targets, prepared as one command for an AVX-512-BF16 machine (it runs on any
# CPU; where bf16 is not native, `auto` resolves to fp32 and the script says so). In order:
#   0. one dense-block conv's GFLOP/s per precision and layout (bench.conv_speed)
#   1. a `cpu`-budget x4 checkpoint (the trained weights the accuracy targets need)
#   2. x4 1080p round trip against the official network, same weights, interleaved:
#      fp32 (target >= 1.5x, Y-PSNR equal to 0.001 dB) in NCHW and channels-last, then the
#      auto path (--dtype auto --channels-last: target >= 3x, Y-PSNR cost <= 0.05 dB against
#      fp32)
#   3. 4K x4 tiled round trip, fp32 and auto: time and peak RSS (target < 3 GB)
#   4. `cpu`-budget x2 training steps, interleaved pairs: amp=off,auto (target >= 1.8x) and
#      channels_last=false,true
# Each command's output goes to $OUT/NAME.log and .json; a table of the targets comes last.
# The final psnr_y against the seed spread, and the main job before / after, are sweeps:
#   python -m bench.sweep search_spaces/losses.py --set amp=off   (then --set amp=auto)
#
#   bash bench/cpu_check.sh            # about 40 minutes on a 2-core Zen 3; 13 on the 2-core
#                                      # Intel Xeon with AMX of 2026-12-02 (bench/THROUGHPUT.md),
#                                      # before the fp32 channels-last step (~3.5 min more there)
#   QUICK=1 bash bench/cpu_check.sh    # 256-px images, smoke checkpoint: the plumbing, minutes
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
OUT=${OUT:-cpu_check}
THREADS=${THREADS:-$(nproc)}
mkdir -p "$OUT"
if [ -n "${QUICK:-}" ]; then
    HD=256x256; UHD=512x512; TILE=128; BUDGET=smoke; STEPS=4
else
    HD=1080p; UHD=4k; TILE=1024; BUDGET=cpu; STEPS=20
fi
grep -m1 -E "^model name" /proc/cpuinfo || true
grep -m1 -E "^cpu family" /proc/cpuinfo || true
grep -m1 -E "^model\s" /proc/cpuinfo || true
grep -q -m1 avx512_bf16 /proc/cpuinfo && echo "avx512_bf16: yes" || echo "avx512_bf16: no"
step() {  # name, command...: output to $OUT/name.log, stops the script on failure
    local name=$1; shift
    echo "== $(date +%T) $name: $*"
    "$@" > "$OUT/$name.log" 2>&1 || { tail -5 "$OUT/$name.log"; exit 1; }
    tail -3 "$OUT/$name.log"
}
step conv "$PY" -m bench.conv_speed
step train "$PY" -m bench.train --budget "$BUDGET" --set scale=4 --set jpeg_eval= \
    --save "$OUT/x4.pt" --json "$OUT/train.json"
TP=("$PY" -m bench.throughput --scale 4 --threads "$THREADS" --checkpoint "$OUT/x4.pt")
step hd_fp32 "${TP[@]}" --size "$HD" --repeats 2 --warmup 0 --dtype fp32 \
    --baseline official --json "$OUT/hd_fp32.json"
step hd_fp32_cl "${TP[@]}" --size "$HD" --repeats 2 --warmup 0 --dtype fp32 --channels-last \
    --baseline official --json "$OUT/hd_fp32_cl.json"
step hd_auto "${TP[@]}" --size "$HD" --repeats 2 --warmup 0 --dtype auto --channels-last \
    --baseline official --json "$OUT/hd_auto.json"
step uhd_fp32 "${TP[@]}" --size "$UHD" --tile "$TILE" --overlap 64 --repeats 1 --warmup 0 \
    --dtype fp32 --json "$OUT/uhd_fp32.json"
step uhd_auto "${TP[@]}" --size "$UHD" --tile "$TILE" --overlap 64 --repeats 1 --warmup 0 \
    --dtype auto --channels-last --json "$OUT/uhd_auto.json"
PROFILE=(env OMP_NUM_THREADS=1 "$PY" -m bench.profile --budget "$BUDGET" --set scale=2
         --steps "$STEPS" --warmup 2)
step train_amp "${PROFILE[@]}" --compare amp=off,auto --json "$OUT/train_amp.json"
step train_layout "${PROFILE[@]}" --compare channels_last=false,true \
    --json "$OUT/train_layout.json"
"$PY" - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
def load(name):
    with open(f"{out}/{name}.json") as f:
        return json.load(f)
hd32, hd32cl, hdauto = load("hd_fp32"), load("hd_fp32_cl"), load("hd_auto")
rows = [(f"x4 HD fp32{layout} vs official", f"{r['speedup']:.2f}x, Y-PSNR diff "
         f"{r['psnr_y'] - r['baseline']['psnr_y']:+.4f} dB", ">= 1.5x, |diff| <= 0.001")
        for r, layout in ((hd32, ""), (hd32cl, ", channels-last"))]
rows += [
    ("x4 HD auto vs official", f"{hdauto['speedup']:.2f}x ({hdauto['dtype']}, "
     f"{hdauto['dtype_reason']}); Y-PSNR cost vs fp32 {hd32['psnr_y'] - hdauto['psnr_y']:+.4f} dB",
     ">= 3x, cost <= 0.05"),
]
for name in ("uhd_fp32", "uhd_auto"):
    r = load(name)
    layout = ", channels-last" if r["channels_last"] else ""
    rows.append((f"x4 {r['size']} tiled, {r['dtype']}{layout}",
                 f"{r['round_trip']['median_s']:.1f} s, "
                 f"peak RSS {r.get('max_rss_gb', 0):.2f} GB", "RSS < 3 GB"))
for name, target in (("train_amp", ">= 1.8x"), ("train_layout", "")):
    a, b = load(name)["results"]
    p = b["paired"]
    rows.append((f"x2 training {b['label']} vs {a['label']}",
                 f"{p['speedup']:.3f}x [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}] "
                 f"({b['precision']}, {b['layout']}): {p['verdict']}", target))
width = max(len(r[0]) for r in rows)
for name, got, want in rows:
    print(f"{name:<{width}}  {got}" + (f"   target {want}" if want else ""))
EOF
echo "results in $OUT/"
