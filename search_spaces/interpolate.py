"""Frame interpolation as an invertible network (task=interpolate, irn/video/frames.py):
the research notes' layout [frame n+2][frame n+2 - frame n] <-> [frame n+1][z] against
the plain-frames layout [frame n+2][frame n] <-> [frame n+1][z], on camera-motion clips
rendered from the embedded photos (as search_spaces/predict.py).

Read against the baselines on the same frames: frame_gain_db (over the neighbours' mean)
and frame_vs_flow_db (over DIS optical-flow midpoint warping). Both layouts start as the
later neighbour repeated (couplings near the identity), below the neighbours' mean.
"""
from ray import tune

SPACE = {
    "task": "interpolate",
    "frame_layout": tune.grid_search(["diff", "frames"]),
    "scale": 2,
    "jpeg_eval": "",
}
TUNE = {"metric": "frame_gain_db", "searcher": "grid", "budget": "cpu", "seeds": "auto", "max_seeds": 5,
        "compare": ["frame_vs_flow_db", "frame_psnr_y", "reverse_psnr_y", "reverse_gauss_psnr_y"],
        "reference": {"frame_layout": "diff"}}
