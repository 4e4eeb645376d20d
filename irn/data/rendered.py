"""Out-of-domain test images rendered with Pillow: text, line art, a screenshot-like UI.

IRN is trained on photographs; sharp glyph edges, one-pixel lines and flat UI colours are its
known failure (they come back blurred). These images are drawn, not downloaded, from fixed
shapes and words, so the same Pillow gives the same pixels on every machine (`--data text`).
"""
import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = (256, 192)  # W x H: divisible by 2, 4 and 8
WORDS = ("Invertible rescaling keeps the lost detail in a latent variable. "
         "Text, thin lines and flat colours are far from the photographs it was trained on: "
         "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz (){}[]<>=+-*/ ")


def _font(size: int):
    return ImageFont.load_default(size=size)


def _wrap(draw, text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) > width and line:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + [line]


def text_page() -> np.ndarray:
    """Black text in three sizes on white, as a scanned page or a document screenshot."""
    im = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(im)
    y = 4
    for size in (9, 12, 16):
        font = _font(size)
        for line in _wrap(draw, WORDS, font, SIZE[0] - 8)[:4]:
            draw.text((4, y), line, fill="black", font=font)
            y += size + 3
    return np.asarray(im)


def line_art() -> np.ndarray:
    """One-pixel and thicker strokes, circles, a hatched polygon and a fine grid."""
    im = Image.new("RGB", SIZE, (250, 250, 245))
    draw = ImageDraw.Draw(im)
    w, h = SIZE
    for x in range(0, w, 8):  # fine grid, alternating 1 px lines
        draw.line([(x, 0), (x, 40)], fill=(180, 180, 200), width=1)
    for i, r in enumerate(range(10, 60, 10)):
        draw.ellipse([70 - r, 110 - r, 70 + r, 110 + r], outline=(0, 0, 0), width=1 + i % 2)
    draw.polygon([(150, 60), (240, 80), (220, 170), (140, 150)], outline=(200, 30, 30), width=2)
    for k in range(0, 120, 6):  # diagonal hatching inside the polygon's box
        draw.line([(140 + k, 60), (140 + k - 40, 170)], fill=(30, 30, 160), width=1)
    draw.line([(0, h - 1), (w - 1, 45)], fill=(0, 120, 0), width=1)
    return np.asarray(im)


def screenshot() -> np.ndarray:
    """A window: title bar, toolbar buttons with labels, a table of numbers, a progress bar."""
    im = Image.new("RGB", SIZE, (236, 239, 244))
    draw = ImageDraw.Draw(im)
    w, _ = SIZE
    small = _font(10)
    draw.rectangle([0, 0, w, 18], fill=(46, 52, 64))
    draw.text((6, 3), "irn-bench - evaluate", fill="white", font=small)
    for i, (colour, label) in enumerate([((191, 97, 106), "Stop"), ((163, 190, 140), "Run"),
                                         ((94, 129, 172), "Save")]):
        x = 6 + i * 60
        draw.rounded_rectangle([x, 26, x + 52, 44], radius=4, fill=colour)
        draw.text((x + 10, 29), label, fill="white", font=small)
    for r in range(6):
        y = 54 + r * 16
        draw.rectangle([6, y, w - 6, y + 15], fill="white" if r % 2 else (229, 233, 240))
        draw.text((10, y + 2), f"Set{r + 5}   x{2 ** (r % 3 + 1)}   {30 + 2.17 * r:.2f} dB",
                  fill=(59, 66, 82), font=small)
    draw.rectangle([6, 160, w - 6, 172], outline=(76, 86, 106))
    draw.rectangle([7, 161, 7 + (w - 14) * 2 // 3, 171], fill=(136, 192, 208))
    return np.asarray(im)


RENDERED = {"text_page": text_page, "line_art": line_art, "screenshot": screenshot}


def rendered_images() -> tuple[list[str], list[np.ndarray]]:
    """(names, H x W x 3 uint8 images) of the out-of-domain set."""
    return list(RENDERED), [make() for make in RENDERED.values()]
