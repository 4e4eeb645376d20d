"""Frame prediction as an invertible network (task=predict, irn/video/frames.py): the
research notes' two layouts, [frame n+1][frame n] <-> [frame n+2][z] against
[frame n+1][frame n+1 - frame n] <-> [frame n+2][z], on camera-motion clips rendered from
the embedded photos (irn/video/clips.py; validation: a pan, a zoom and a rotation of each
val photo, 5 frames of 128 px, cut into 64-px tiles: 72 triples' tiles).

The answer is read against the baselines on the same frames: frame_gain_db (over repeating
the last frame) and frame_vs_flow_db (over DIS optical-flow extrapolation). z enters only
the reverse direction, the by-product (reverse_psnr_y, z = 0; reverse_gauss_psnr_y).
"""
from ray import tune

SPACE = {
    "task": "predict",
    "frame_layout": tune.grid_search(["frames", "diff"]),
    "scale": 2,
    "jpeg_eval": "",
}
TUNE = {"metric": "frame_gain_db", "searcher": "grid", "budget": "cpu", "seeds": "auto", "max_seeds": 5,
        "compare": ["frame_vs_flow_db", "frame_psnr_y", "reverse_psnr_y", "reverse_gauss_psnr_y"],
        "reference": {"frame_layout": "frames"}}
