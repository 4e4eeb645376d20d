"""Rescaling as compression: with the guide loss weakened or removed, the LR becomes a free
code for the upscaler. Is the pair (downscale, store, upscale) a better codec than plain JPEG?

lambda_guide from the published x2 weight (scale^2 = 4) down to 0, enhanced coupling, two seeds
each: 8 trials at the cpu budget. Every evaluation also stores each LR as PNG and as JPEG at
the jpeg_eval QFs and codes the HR itself with plain JPEG at irn.metric_registry.HR_JPEG_QUALITIES
(`storage_eval`): rates are payload bits per HR pixel (irn/storage.py: the coded data without
its container, which would dominate 64-px tiles). The report's rate-distortion section draws
the curves (model, bicubic LR through the same codecs, plain JPEG) and, at each model point,
the Y-PSNR gain over plain JPEG at the same rate (interpolated on each tile's JPEG curve),
with its 95% CI over seeds x tiles.
"""
from ray import tune

SPACE = {
    "lambda_guide": tune.grid_search([4.0, 1.0, 0.25, 0.0]),
    "storage_eval": True,
    "jpeg_eval": "10,30,50,70,90",
}
TUNE = {"metric": "gain_db", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"lambda_guide": 4.0}}
