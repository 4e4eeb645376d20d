"""VGG16-based perceptual losses: lpips (Zhang et al. 2018) and dists (Ding et al. 2020).

Hand-written because the lpips / DISTS_pytorch / piq packages import torchvision, which
cannot be installed next to this torch, and because their weights are downloaded at run time,
which is impossible here. The VGG16 is defined below with torchvision's `features.{i}` layout,
so torchvision's own file loads as is:

    torch.load("vgg16-397923af.pth", weights_only=True)   # features.{i}.weight / .bias

The file is given as option `weights=PATH` or through the environment variable
IRN_VGG16_WEIGHTS; nothing is ever downloaded. The VGG weights become non-persistent buffers:
frozen, moved by .to(device), but absent from .parameters() and from the loss's state_dict,
so an optimiser over loss.parameters() never sees 14.7M frozen weights.

Calibration: without their learned per-channel weights (LPIPS 'lin' file, DISTS alpha/beta
file) both use uniform weights, i.e. they are "LPIPS-style" / "DISTS-style" and uncalibrated
against human judgements. Both return a per-image distance that is already an average over
pixels (0 = identical), averaged over the batch.
"""
import os
import re

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

VGG16_ENV = "IRN_VGG16_WEIGHTS"
LPIPS_ENV = "IRN_LPIPS_LIN_WEIGHTS"
DISTS_ENV = "IRN_DISTS_WEIGHTS"
VGG16_FILE = "vgg16-397923af.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision vgg16().features: (out_channels of each conv | "M" for a 2x2 max-pool). Indices
# of `features` count every conv, ReLU and pool, exactly as in torchvision.
_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
TAP_INDICES = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
TAP_CHANNELS = (64, 128, 256, 512, 512)


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def _resolve(path, env: str, what: str, required: bool):
    """The file from the option, else from the env var; a clear one-line error if missing."""
    path = path or os.environ.get(env)
    if not path:
        if required:
            raise FileNotFoundError(
                f"{what} needs local VGG16 weights: pass weights=PATH or set {env} to a "
                f"torchvision-format {VGG16_FILE} file (nothing is downloaded)")
        return None
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: weights file not found: {path} (from option or {env})")
    return path


def _load(path: str, what: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a pickle error, a truncated file, ...
        raise ValueError(f"{what}: cannot load {path}: {_one_line(err)}") from None
    if not isinstance(state, dict):
        raise ValueError(f"{what}: {path} does not hold a state dict")
    return state


class L2Pool(nn.Module):
    """DISTS' anti-aliased pooling: sqrt(hanning-3x3-blur(x^2)), stride 2 (replaces max-pool)."""

    def __init__(self, channels: int):
        super().__init__()
        a = np.hanning(5)[1:-1]  # [0.5, 1, 0.5]
        g = torch.tensor(np.outer(a, a), dtype=torch.float32)
        g = (g / g.sum()).expand(channels, 1, 3, 3).clone()
        self.register_buffer("filter", g, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x * x, self.filter.to(x.dtype), stride=2, padding=1, groups=x.shape[1])
        return torch.sqrt(out + 1e-12)  # +1e-12 as in DISTS: keeps sqrt differentiable at 0


class VGG16Features(nn.Module):
    """torchvision's vgg16().features[:30] (up to relu5_3), frozen, returning the 5 taps.

    pool='max' (LPIPS) or 'l2' (DISTS). Input: RGB in [0, 1]; ImageNet normalisation inside.
    """

    def __init__(self, path: str, pool: str = "max", what: str = "vgg16"):
        super().__init__()
        layers, c_in = [], 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2) if pool == "max" else L2Pool(c_in))
            else:
                layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU(inplace=False)]
                c_in = v
        self.features = nn.Sequential(*layers)
        state = _load(path, what)
        state = {k.removeprefix("module."): v for k, v in state.items()}
        if any(k.startswith("features.") for k in state):
            state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        try:  # load only the convs up to index 28 (a full file also has a classifier: ignored)
            ours = {k: v for k, v in state.items() if re.fullmatch(r"\d+\.(weight|bias)", k)
                    and int(k.split(".")[0]) < len(layers)}
            self.features.load_state_dict(ours, strict=True)
        except RuntimeError as err:
            raise ValueError(f"{what}: {path} is not a torchvision vgg16 state dict: "
                             f"{_one_line(err)[:300]}") from None
        # Frozen weights as non-persistent buffers (see the module docstring).
        for conv in self.features:
            if isinstance(conv, nn.Conv2d):
                for name in ("weight", "bias"):
                    tensor = getattr(conv, name).detach()
                    delattr(conv, name)
                    conv.register_buffer(name, tensor, persistent=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, taps = (x - self.mean) / self.std, []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in TAP_INDICES:
                taps.append(h)
        return taps


class LPIPSLoss(nn.Module):
    """LPIPS (VGG16): sum over relu{1_2,...,5_3} of the spatial mean of w . (f1_hat - f2_hat)^2,
    f_hat the features unit-normalised over channels.

    lin_weights=PATH (or IRN_LPIPS_LIN_WEIGHTS): the lpips package's v0.1 vgg.pth
    (`lin{k}.model.1.weight`, shape 1 x C_k x 1 x 1) gives the calibrated metric. Without it
    w = 1 per channel, as lpips' uncalibrated baseline mode (lpips=False): "LPIPS-style".
    """

    def __init__(self, weights: str | None = None, lin_weights: str | None = None):
        super().__init__()
        vgg_path = _resolve(weights, VGG16_ENV, "lpips", True)
        lin_path = _resolve(lin_weights, LPIPS_ENV, "lpips lin", False)
        self.calibrated = lin_path is not None
        lins = [torch.ones(1, c, 1, 1) for c in TAP_CHANNELS]
        if lin_path:
            state = _load(lin_path, "lpips lin")
            found = {int(m.group(1)): v for k, v in state.items()
                     if (m := re.fullmatch(r"lin(\d)\.model\.\d+\.weight", k))}
            shapes = [tuple(found[k].shape) if k in found else None for k in range(5)]
            if shapes != [(1, c, 1, 1) for c in TAP_CHANNELS]:
                raise ValueError(f"lpips lin: {lin_path} is not an LPIPS vgg 'lin' file "
                                 f"(lin0..lin4 shapes {shapes})")
            lins = [found[k].float() for k in range(5)]
        for k, w in enumerate(lins):
            self.register_buffer(f"lin{k}", w, persistent=False)
        self.vgg = VGG16Features(vgg_path, "max", "lpips")  # last: the small file fails faster

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for k, (fp, ft) in enumerate(zip(self.vgg(pred), self.vgg(target))):
            fp, ft = fp.float(), ft.float()  # the distance in float32 even under bf16 autocast
            # F.normalize (x / max(|x|, eps)) has a finite gradient where a feature vector is 0,
            # unlike lpips' x / (sqrt(sum x^2) + eps), which gives NaN there.
            diff = (F.normalize(fp, dim=1, eps=1e-10) - F.normalize(ft, dim=1, eps=1e-10)) ** 2
            total = total + (diff * getattr(self, f"lin{k}")).sum(1).mean((1, 2))
        return total.mean()

    def extra_repr(self) -> str:
        return f"calibrated={self.calibrated}"


class DISTSLoss(nn.Module):
    """DISTS (VGG16 with L2 pooling): 1 - sum_k sum_c (alpha_kc S1_kc + beta_kc S2_kc), with
    per-channel structure (S2: normalised covariance) and texture (S1: mean) similarities over
    the image itself and relu{1_2,...,5_3}; c1 = c2 = 1e-6 as in DISTS_pt.py.

    dists_weights=PATH (or IRN_DISTS_WEIGHTS): DISTS' weights.pt ('alpha', 'beta', each
    1 x 1475 x 1 x 1) gives the calibrated metric; without it alpha = beta = uniform (what the
    original initialisation, N(0.1, 0.01), is on average): "DISTS-style".
    """

    CHANNELS = (3,) + TAP_CHANNELS

    def __init__(self, weights: str | None = None, dists_weights: str | None = None):
        super().__init__()
        vgg_path = _resolve(weights, VGG16_ENV, "dists", True)
        ab_path = _resolve(dists_weights, DISTS_ENV, "dists alpha/beta", False)
        self.calibrated = ab_path is not None
        n = sum(self.CHANNELS)
        alpha, beta = torch.ones(1, n, 1, 1), torch.ones(1, n, 1, 1)
        if ab_path:
            state = _load(ab_path, "dists alpha/beta")
            shapes = [tuple(getattr(state.get(k), "shape", ())) for k in ("alpha", "beta")]
            if shapes != [(1, n, 1, 1)] * 2:
                raise ValueError(f"dists alpha/beta: {ab_path} needs 'alpha' and 'beta' "
                                 f"of shape (1, {n}, 1, 1)")
            alpha, beta = state["alpha"].float(), state["beta"].float()
        total = alpha.sum() + beta.sum()
        self.register_buffer("alpha", alpha / total, persistent=False)
        self.register_buffer("beta", beta / total, persistent=False)
        self.vgg = VGG16Features(vgg_path, "l2", "dists")

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c1 = c2 = 1e-6
        alphas = torch.split(self.alpha, self.CHANNELS, dim=1)
        betas = torch.split(self.beta, self.CHANNELS, dim=1)
        feats_p = [pred] + self.vgg(pred)  # stage 0 is the raw image, as in DISTS
        feats_t = [target] + self.vgg(target)
        similarity = 0.0
        for fp, ft, a, b in zip(feats_p, feats_t, alphas, betas):
            # statistics in float32 even under bf16 autocast (variances of near-equal values)
            fp, ft = fp.float(), ft.float()
            mp, mt = fp.mean((2, 3), keepdim=True), ft.mean((2, 3), keepdim=True)
            s1 = (2 * mp * mt + c1) / (mp ** 2 + mt ** 2 + c1)
            vp = ((fp - mp) ** 2).mean((2, 3), keepdim=True)
            vt = ((ft - mt) ** 2).mean((2, 3), keepdim=True)
            cov = (fp * ft).mean((2, 3), keepdim=True) - mp * mt
            s2 = (2 * cov + c2) / (vp + vt + c2)
            similarity = similarity + (a * s1 + b * s2).sum((1, 2, 3))
        return (1.0 - similarity).mean()

    def extra_repr(self) -> str:
        return f"calibrated={self.calibrated}"
