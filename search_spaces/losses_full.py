"""Every reconstruction loss, the guide staying the official L2: l1, l2, charbonnier, huber,
barron (at L1's scale), SSIM and MS-SSIM mixes, and the JPEG-aware ycbcr; 2 seeds each: 16
trials, sized for the gpu budget (`--budget cpu` on a 2-core Zen 3: 37 minutes; losses.py is
the short study).
"""
from ray import tune

SPACE = {
    # Barron's rho at scale c grows like |x| / c (irn/losses/barron.py): c * rho is on L1's
    # scale, so "0.01*barron" (the default c = 0.01) is weighted like the other losses;
    # plain "barron" weighs the reconstruction 100x against the guide: its LR drifted from
    # the bicubic LR (2026-12-02, cpu budget: lr_psnr_y 25.1 and 28.4 dB against 44.8-46.5
    # for the others) and psnr_y fell below bicubic's (29.47 and 31.57 against 33.10 dB)
    "loss_recon": tune.grid_search(["charbonnier", "l1", "l2", "huber", "0.01*barron",
                                    "l1+0.2*ms_ssim", "charbonnier+0.2*ssim", "ycbcr"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "gpu", "seeds": 2}
