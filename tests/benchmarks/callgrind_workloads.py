"""Small hot paths whose instruction counts the gate compares (valgrind's callgrind).

Wall time cannot resolve a 5% change in a millisecond-scale path on a shared 2-core runner;
callgrind's instruction count of the same binary and input is the same whatever else the
machine is doing. bench/gate/command.py runs this module's WORKLOADS under valgrind once per tree
(base and head, each importing its own `irn`), through bench/gate/tools/callgrind_driver.py.

WORKLOADS maps a name to `make()`, which builds everything outside the counted region and
returns (fn, number): the driver calls fn twice to warm up, then counts `number` calls and
reports instructions per call. Sizes are small: under valgrind a call runs ~50x slower.
Not collected by pytest (the file name does not start with test_). Renaming a workload
makes it "missing in base" once; changing its size moves its count like any code change.
"""
import numpy as np
import torch

from irn.config import from_dict
from irn.couplings import EnhancedCoupling
from irn.data import train_loader, val_images
from irn.evaluate import evaluate_image
from irn.haar import HaarDownsampling
from irn.losses import build_loss
from irn.model import build_model
from irn.subnets import DenseBlock
from irn.train import Trainer


def _photos(n=4, side=96):
    """Fixed synthetic uint8 images (decoding real photos under valgrind takes minutes)."""
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (side, side + 8 * i, 3), dtype=np.uint8) for i in range(n)]


def haar_transform():
    haar = HaarDownsampling([(3, 64, 64)])
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    def both():
        (y,), _ = haar([x])
        return haar([y], rev=True)
    return both, 20


def coupling_block():
    """One IRN coupling (EnhancedCoupling with three DenseBlocks), forward and reverse, at
    the x2 model's first stage shape (12 channels after one Haar) on 16x16."""
    torch.manual_seed(0)
    block = EnhancedCoupling([(12, 16, 16)], subnet_constructor=lambda i, o: DenseBlock(i, o, 16))
    x = torch.rand(1, 12, 16, 16)

    @torch.inference_mode()
    def both():
        (y,), _ = block([x])
        return block([y], rev=True)
    return both, 4


def loader_batch_memory():
    """The in-memory loader's batch assembly: crops, flips, stacking, the batched imresize."""
    batches = iter(train_loader("embedded", scale=2, patch_size=32, batch_size=4,
                                loader="memory", images=_photos()))
    return (lambda: next(batches)), 6


def _step(**settings):
    """One optimiser step of a one-block x2 model under these config settings."""
    cfg = from_dict({"scale": 2, "blocks": 1, "gc": 8, "batch_size": 1, "jpeg_eval": "",
                     **settings})
    trainer = Trainer(cfg, train_images=_photos())
    hr, lr = next(trainer.batches())
    return (lambda: trainer.train_step(hr, lr)), 2


def training_step():
    """One optimiser step (forward, three losses, backward, Adam) of a one-block x2 model."""
    return _step(patch_size=16, z_train="gaussian")


def x4_round_trip():
    """Inference through the whole x4 model, one block per stage: downscale, then upscale
    from the LR and z = 0 (test_forward_reverse's path, multiscale cats and pixel shuffles
    included) on 32x32."""
    torch.manual_seed(0)
    model = build_model(scale=4, blocks=1, gc=8).eval()
    x = torch.rand(1, 3, 32, 32)

    @torch.inference_mode()
    def both():
        y, _ = model(x, jac=False)
        return model(y, rev=True, jac=False)[0]
    return both, 4


def jpeg_training_step():
    """The JPEG study's optimiser step: training_step's model with the LR through kornia's
    differentiable JPEG (jpeg_train=diff, QF 75) before the reconstruction."""
    return _step(patch_size=32, jpeg_train="diff", jpeg_quality="75")


def recon_losses():
    """Forward and backward of the hand-configured reconstruction losses a study compares
    (lpips/dists need VGG weights: not here), summed as one loss spec, on 2 x 3 x 48 x 48."""
    loss = build_loss("l1+l2+charbonnier+huber+barron+barron_adaptive+ssim+ms_ssim+gmsd+ycbcr")
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 48, 48, generator=gen)
    pred = (target + 0.05 * torch.randn(2, 3, 48, 48, generator=gen)).requires_grad_()

    def step():
        pred.grad = None
        value = loss(pred, target)
        value.backward()
        return value
    return step, 2


def evaluate_one_image():
    """irn.evaluate's published-convention evaluation of one 48 x 48 image by a one-block x2
    model: two gaussian z draws, Y-PSNR/SSIM, RGB PSNR, the bicubic and SR rows, and the
    real-JPEG rows at QF 75 (libjpeg encode and decode)."""
    torch.manual_seed(0)
    cfg = from_dict({"scale": 2, "blocks": 1, "gc": 8, "jpeg_eval": "75", "eval_z_draws": 2})
    model = build_model(**cfg.arch()).eval()
    ((hr, lr_ref),) = val_images(scale=cfg.scale, images=_photos(1, 48), tile=0)
    return (lambda: evaluate_image(model, hr, lr_ref, cfg, seed=0)), 2


WORKLOADS = {f.__name__: f for f in (haar_transform, coupling_block, loader_batch_memory,
                                     training_step, x4_round_trip, jpeg_training_step,
                                     recon_losses, evaluate_one_image)}
