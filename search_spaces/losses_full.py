"""Every reconstruction loss, the guide staying the official L2: l1, l2, charbonnier, huber,
barron, SSIM and MS-SSIM mixes, and the JPEG-aware ycbcr. 8 trials, sized for the gpu budget
(with the cpu budget on 2 CPU cores it takes about 25 minutes; losses.py is the short study).
"""
from ray import tune

SPACE = {
    "loss_recon": tune.grid_search(["charbonnier", "l1", "l2", "huber", "barron",
                                    "l1+0.2*ms_ssim", "charbonnier+0.2*ssim", "ycbcr"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "gpu"}
