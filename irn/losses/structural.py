"""Structural losses: ssim, ms_ssim (pytorch-msssim) and gmsd (hand-written).

Each is computed in float32 with autocast disabled: SSIM's variances are differences of
nearly equal local means, which lose all precision in bf16/fp16. Each returns a per-image
score averaged over the batch; the scores are themselves averages over pixels (and channels),
so they fit the per-element-mean convention of irn/losses/__init__.py.
"""
import torch
from torch import nn
import torch.nn.functional as F
import pytorch_msssim
# pytorch-msssim's public ms_ssim() insists on 4 downsamplings whatever the weights (images >
# 160 px for an 11 px window), so MS-SSIM below reuses its per-scale kernel _ssim and Gaussian
# window directly (pinned pytorch-msssim==1.0.0) in the same level loop with fewer levels.
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim
from kornia.color import rgb_to_grayscale

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, finest first


def _float32(pred: torch.Tensor, target: torch.Tensor):
    return pred.float(), target.float()


def _fit_window(win_size: int, side: int) -> int:
    """Largest odd window <= win_size that fits in `side` pixels (at least 1)."""
    win = min(win_size, side)
    return max(win - (1 - win % 2), 1)


class _Windowed(nn.Module):
    """Keeps the Gaussian window as a buffer: pytorch-msssim would build it on the host at
    every call, and that host-to-device copy blocks (a GPU sync per step)."""

    def __init__(self, win_size: int, win_sigma: float, data_range: float):
        super().__init__()
        self.win_size, self.win_sigma = int(win_size), float(win_sigma)
        self.data_range = float(data_range)
        win = _fspecial_gauss_1d(self.win_size, self.win_sigma)  # 1 x 1 x win_size
        self.register_buffer("win", win, persistent=False)

    def window(self, size: int, channels: int) -> torch.Tensor:
        """channels x 1 x 1 x size; a window shrunk for tiny patches is built on the fly."""
        if size == self.win_size:
            return self.win.repeat(channels, 1, 1, 1)
        return _fspecial_gauss_1d(size, self.win_sigma).to(self.win.device).repeat(channels, 1, 1, 1)


class SSIMLoss(_Windowed):
    """1 - SSIM (Gaussian window 11, sigma 1.5, data_range 1), averaged over channels and batch.

    Patches smaller than the window use the largest odd window that fits (pytorch-msssim itself
    would silently skip the smoothing along that axis).
    """

    def __init__(self, win_size: int = 11, win_sigma: float = 1.5, data_range: float = 1.0):
        super().__init__(win_size, win_sigma, data_range)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(pred.device.type, enabled=False):
            p, t = _float32(pred, target)
            win = self.window(_fit_window(self.win_size, min(p.shape[-2:])), p.shape[1])
            return 1.0 - pytorch_msssim.ssim(p, t, data_range=self.data_range, win=win)


class MSSSIMLoss(_Windowed):
    """1 - MS-SSIM (Wang et al. 2003; window 11, sigma 1.5, data_range 1).

    The standard 5 scales need the short side > 160 px. For smaller patches the number of
    scales drops to the most that keep the window inside the coarsest scale (side > 10 * 2^(L-1):
    144 px -> 4, 64 px -> 3, 32 px -> 2), using the first L standard weights renormalised to
    sum to 1 (L=1 is plain SSIM). Below 11 px the window shrinks as in SSIMLoss. `levels`
    caps the number of scales. Per-scale computation and the relu on contrast-structure terms
    are pytorch-msssim's.
    """

    def __init__(self, levels: int = 5, win_size: int = 11, win_sigma: float = 1.5,
                 data_range: float = 1.0):
        super().__init__(win_size, win_sigma, data_range)
        if not 1 <= levels <= len(MS_SSIM_WEIGHTS):
            raise ValueError(f"ms_ssim: levels must be in 1..{len(MS_SSIM_WEIGHTS)}, got {levels}")
        self.levels = int(levels)
        self.register_buffer("weights", torch.tensor(MS_SSIM_WEIGHTS), persistent=False)

    def scales_for(self, side: int) -> tuple[int, int]:
        """(number of scales, window size) used for a patch whose short side is `side`."""
        levels = 1
        while levels < self.levels and side > (self.win_size - 1) * 2 ** levels:
            levels += 1
        return levels, _fit_window(self.win_size, side)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(pred.device.type, enabled=False):
            x, y = _float32(pred, target)
            levels, win_size = self.scales_for(min(x.shape[-2:]))
            weights = self.weights[:levels]
            if levels < len(MS_SSIM_WEIGHTS):  # all 5: the standard weights as is (sum 1.0001)
                weights = weights / weights.sum()
            win = self.window(win_size, x.shape[1])
            mcs = []
            for i in range(levels):
                ssim_per_channel, cs = _ssim(x, y, data_range=self.data_range, win=win,
                                             size_average=False, K=(0.01, 0.03))
                if i < levels - 1:
                    mcs.append(torch.relu(cs))
                    padding = [s % 2 for s in x.shape[2:]]
                    x = F.avg_pool2d(x, kernel_size=2, padding=padding)
                    y = F.avg_pool2d(y, kernel_size=2, padding=padding)
            stack = torch.stack(mcs + [torch.relu(ssim_per_channel)], dim=0)  # level x N x C
            ms_ssim = torch.prod(stack ** weights.view(-1, 1, 1), dim=0)
            return 1.0 - ms_ssim.mean()

    def extra_repr(self) -> str:
        return f"levels<={self.levels}, win_size={self.win_size}"


class GMSDLoss(nn.Module):
    """Gradient Magnitude Similarity Deviation (Xue et al., IEEE TIP 2014) on luma; 0 = identical.

    Hand-written (about 15 lines) because the maintained implementations (piq, IQA-PyTorch)
    depend on torchvision, which cannot be installed next to this torch. Follows the authors'
    MATLAB code: luma (0.299, 0.587, 0.114), 2x2 average + downsample by 2, Prewitt gradients
    /3 with zero 'same' padding, GMS = (2 m1 m2 + c) / (m1^2 + m2^2 + c) with c = 170 on the
    0..255 scale (170 / 255^2 here), GMSD = standard deviation of the GMS map per image
    (unbiased, like MATLAB's std2). Returned: the batch mean of GMSD.
    """

    def __init__(self, c: float = 170.0 / 255.0 ** 2):
        super().__init__()
        self.c = float(c)
        prewitt_x = torch.tensor([[1.0, 0.0, -1.0]] * 3) / 3.0
        kernels = torch.stack([prewitt_x, prewitt_x.t()]).unsqueeze(1)  # 2 x 1 x 3 x 3
        self.register_buffer("kernels", kernels, persistent=False)

    def _gradient_magnitude(self, luma: torch.Tensor) -> torch.Tensor:
        g = F.conv2d(luma, self.kernels.to(luma.dtype), padding=1)
        # the tiny constant keeps sqrt differentiable in flat regions (gradient of sqrt at 0)
        return torch.sqrt(g.pow(2).sum(dim=1) + 1e-12)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(pred.device.type, enabled=False):
            p, t = _float32(pred, target)
            if p.shape[1] == 3:
                p, t = rgb_to_grayscale(p), rgb_to_grayscale(t)
            elif p.shape[1] != 1:
                raise ValueError(f"gmsd: expects 1 or 3 channels, got {p.shape[1]}")
            if min(p.shape[-2:]) >= 2:
                p, t = F.avg_pool2d(p, 2), F.avg_pool2d(t, 2)
            m_p, m_t = self._gradient_magnitude(p), self._gradient_magnitude(t)
            gms = (2 * m_p * m_t + self.c) / (m_p ** 2 + m_t ** 2 + self.c)
            gms = gms.flatten(1)
            var = gms.var(dim=1, correction=1 if gms.shape[1] > 1 else 0)  # unbiased, like std2
            # sqrt(var + e) - sqrt(e): exactly 0 for identical images, finite gradient at var = 0
            eps = 1e-12
            return (torch.sqrt(var + eps) - eps ** 0.5).mean()
