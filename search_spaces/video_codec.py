"""Video rescaling through a real codec (irn/video/codec_study.py): does JPEG-robust
training (jpeg_train=ste at QF 30-90, the best mode of search_spaces/jpeg.py) or the
transform-invariance term (lambda_temporal 0.5, search_spaces/temporal.py) make the LR
survive H.264 better? A 2 x 2 grid; every trial measures, at every evaluation, 6-frame
camera-motion clips rendered from each 128-px validation tile (8 per seed) through libx264
at CRF 23 / 29 / 35: the model's LR, the bicubic LR and the HR coded directly.

The objective is h264_bd_vs_bicubic_db, the Bjontegaard delta PSNR of the model's
rate-distortion curve against the bicubic LR's through the same codec (> 0: better at equal
rate); h264_bd_vs_hr_db compares with coding the HR directly. Rates are bits per HR pixel.
"""
from ray import tune

SPACE = {
    "jpeg_train": tune.grid_search(["off", "ste"]),
    "lambda_temporal": tune.grid_search([0.0, 0.5]),
    "jpeg_quality": "30-90",
    "video_eval": True,
    "val_tile": 128,
    "jpeg_eval": "",
}
TUNE = {"metric": "h264_bd_vs_bicubic_db", "searcher": "grid", "budget": "cpu",
        "seeds": "auto", "max_seeds": 4,
        "compare": ["h264_bd_vs_hr_db", "psnr_y", "h264_crf29_psnr_y", "h264_crf29_flicker"],
        "reference": {"jpeg_train": "off", "lambda_temporal": 0.0}}
