"""What the LR hides: the model's LR minus the bicubic LR, as a picture and as a spectrum.

Inputs are LR pairs as uint8 H x W x 3 (numpy or torch) or float tensors in [0, 1]
(3 x H x W or 1 x 3 x H x W); floats are rounded to 8 bits first. The sweep's saved crops
(irn.crops.visual_crops, kinds `lr` and `lr_bicubic`) are nearest-upsampled to HR size:
pass `nearest=scale` and every scale-th pixel is taken back.

Differences are in 8-bit levels of BT.601 Y. Each image's mean difference (a brightness
offset, reported as `mean`) is removed first, so the window does not smear it over the low
frequencies. The spectrum is numpy's 2-D FFT of the Hann-windowed Y difference,
orthonormal (so |F| is in levels: white noise of sd sigma gives |F| ~ sigma; the window is
scaled to keep the power), fftshift-ed (zero frequency in the middle); its log10(1 + |F|)
is averaged over images. Images of different sizes are
centre-cropped to the smallest. The radial profile is the mean power |F|^2 in rings of
width 1 / min(H, W) cycles per pixel, averaged over images.
"""
import numpy as np
import torch

from irn.metrics import rgb_to_y

GAIN = 8  # amplification of the difference picture, around mid-grey


def rgb8(img, nearest: int = 1) -> np.ndarray:
    """Any accepted LR form -> uint8 H x W x 3 numpy, nearest-upsampling undone."""
    if isinstance(img, torch.Tensor):
        x = img.detach().cpu()
        if x.dtype != torch.uint8:
            x = x.squeeze(0) if x.ndim == 4 else x
            x = (x.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)
        img = x.numpy()
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {img.shape} {img.dtype}")
    return img[::nearest, ::nearest]


def y_difference(lr, lr_bicubic, nearest: int = 1) -> np.ndarray:
    """Y(lr) - Y(lr_bicubic) in 8-bit levels, float64 H x W."""
    a, b = (torch.from_numpy(rgb8(x, nearest).copy()).permute(2, 0, 1).double() / 255
            for x in (lr, lr_bicubic))
    if a.shape != b.shape:
        raise ValueError(f"LR {tuple(a.shape)} and bicubic LR {tuple(b.shape)} differ in size")
    return ((rgb_to_y(a) - rgb_to_y(b))[0] * 255).numpy()


def hidden_picture(lr, lr_bicubic, nearest: int = 1, gain: float = GAIN) -> np.ndarray:
    """uint8 H x W x 3: 128 + gain * (lr - lr_bicubic) per RGB channel, clipped."""
    diff = rgb8(lr, nearest).astype(np.float64) - rgb8(lr_bicubic, nearest)
    return np.clip(np.round(128 + gain * diff), 0, 255).astype(np.uint8)


def _centre(a: np.ndarray, h: int, w: int) -> np.ndarray:
    t, l = (a.shape[0] - h) // 2, (a.shape[1] - w) // 2
    return a[t:t + h, l:l + w]


def _spectrum(diff: np.ndarray) -> np.ndarray:
    diff = diff - diff.mean()
    window = np.outer(np.hanning(diff.shape[0]), np.hanning(diff.shape[1]))
    window /= np.sqrt(np.mean(window ** 2)) or 1.0
    return np.fft.fftshift(np.fft.fft2(diff * window, norm="ortho"))


def radial_profile(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ring centre frequencies in cycles per pixel, mean power per ring) of an
    fftshift-ed H x W power spectrum; empty rings left out."""
    h, w = power.shape
    fy = np.fft.fftshift(np.fft.fftfreq(h))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(w))[None, :]
    step = 1 / min(h, w)
    ring = np.floor(np.hypot(fy, fx) / step + 0.5).astype(int).ravel()
    count = np.bincount(ring)
    total = np.bincount(ring, weights=power.ravel())
    keep = count > 0
    return np.nonzero(keep)[0] * step, total[keep] / count[keep]


def difference_spectrum(lrs, lr_bicubics, nearest: int = 1) -> dict:
    """{"log_magnitude": H x W (mean over images), "freq_y", "freq_x", "radial_frequency",
    "radial_power", "mean" and "rms": per image, of the Y difference, "n_images"}."""
    diffs = [y_difference(a, b, nearest) for a, b in zip(lrs, lr_bicubics)]
    if not diffs:
        raise ValueError("no LR pairs given")
    h, w = min(d.shape[0] for d in diffs), min(d.shape[1] for d in diffs)
    spectra = [_spectrum(_centre(d, h, w)) for d in diffs]
    freq, power = radial_profile(np.mean([np.abs(f) ** 2 for f in spectra], 0))
    return {"log_magnitude": np.mean([np.log10(1 + np.abs(f)) for f in spectra], 0),
            "freq_y": np.fft.fftshift(np.fft.fftfreq(h)), "freq_x":
            np.fft.fftshift(np.fft.fftfreq(w)), "radial_frequency": freq, "radial_power": power,
            "mean": [float(d.mean()) for d in diffs],
            "rms": [float(np.sqrt(np.mean(d ** 2))) for d in diffs], "n_images": len(diffs)}
