"""Product-like pictures drawn by the project itself (no downloads, no third-party assets).

Each picture is a simple sketch of an object of one kind in one main colour on a light
background, so the demo data looks like a marketplace and an offline baseline can honestly read
the item's colour from the pixels.
"""

import io
import random

from PIL import Image, ImageDraw

from .colors import NAMED_COLORS as COLORS

# Shape families; every category in the demo catalog maps to one of these.
SHAPES = ("device", "phone", "laptop", "mug", "chair", "shirt", "stroller", "ball", "bike",
          "book", "blocks", "drill", "box")  # fmt: skip


def render_item(
    *, shape: str, color: str, seed: int = 0, size: tuple[int, int] = (800, 600)
) -> bytes:
    """A JPEG of a `shape` in `color` with a little deterministic variation from `seed`."""
    rng = random.Random(f"{shape}:{color}:{seed}")
    background = tuple(rng.randint(222, 240) for _ in range(3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.15, h * 0.82, w * 0.85, h * 0.95), fill=tuple(c - 25 for c in background))
    _DRAWERS[shape](draw, w, h, COLORS[color], rng)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def _shade(rgb, amount: int):
    return tuple(max(0, min(255, c + amount)) for c in rgb)


def _device(d, w, h, c, rng):
    d.rounded_rectangle((w * 0.2, h * 0.25, w * 0.8, h * 0.8), radius=20, fill=c)
    d.rounded_rectangle((w * 0.26, h * 0.32, w * 0.74, h * 0.72), radius=8, fill=_shade(c, -60))


def _phone(d, w, h, c, rng):
    d.rounded_rectangle((w * 0.38, h * 0.12, w * 0.62, h * 0.85), radius=28, fill=c)
    d.rounded_rectangle((w * 0.40, h * 0.17, w * 0.60, h * 0.78), radius=10, fill=(20, 22, 30))


def _laptop(d, w, h, c, rng):
    d.rectangle((w * 0.25, h * 0.2, w * 0.75, h * 0.6), fill=c)
    d.rectangle((w * 0.28, h * 0.24, w * 0.72, h * 0.57), fill=(25, 30, 45))
    d.polygon(
        [(w * 0.18, h * 0.8), (w * 0.82, h * 0.8), (w * 0.75, h * 0.62), (w * 0.25, h * 0.62)],
        fill=_shade(c, -20),
    )


def _mug(d, w, h, c, rng):
    d.rounded_rectangle((w * 0.35, h * 0.3, w * 0.6, h * 0.8), radius=12, fill=c)
    d.arc((w * 0.52, h * 0.4, w * 0.72, h * 0.65), start=-90, end=90, fill=c, width=18)


def _chair(d, w, h, c, rng):
    d.rectangle((w * 0.35, h * 0.15, w * 0.65, h * 0.5), fill=c)
    d.rectangle((w * 0.3, h * 0.5, w * 0.7, h * 0.58), fill=_shade(c, -30))
    for x in (0.32, 0.66):
        d.rectangle((w * x, h * 0.58, w * (x + 0.03), h * 0.88), fill=_shade(c, -50))


def _shirt(d, w, h, c, rng):
    d.polygon(
        [
            (w * 0.3, h * 0.2),
            (w * 0.42, h * 0.15),
            (w * 0.58, h * 0.15),
            (w * 0.7, h * 0.2),
            (w * 0.82, h * 0.38),
            (w * 0.7, h * 0.45),
            (w * 0.68, h * 0.85),
            (w * 0.32, h * 0.85),
            (w * 0.3, h * 0.45),
            (w * 0.18, h * 0.38),
        ],
        fill=c,
    )


def _stroller(d, w, h, c, rng):
    d.pieslice((w * 0.25, h * 0.15, w * 0.7, h * 0.65), start=180, end=360, fill=c)
    d.rectangle((w * 0.25, h * 0.4, w * 0.7, h * 0.6), fill=c)
    for x in (0.3, 0.62):
        d.ellipse((w * x, h * 0.68, w * (x + 0.1), h * 0.82), outline=(30, 30, 30), width=8)


def _ball(d, w, h, c, rng):
    r = min(w, h) * 0.3
    d.ellipse((w / 2 - r, h / 2 - r, w / 2 + r, h / 2 + r), fill=c)
    d.arc(
        (w / 2 - r, h / 2 - r * 0.4, w / 2 + r, h / 2 + r * 0.4),
        0,
        360,
        fill=_shade(c, -70),
        width=6,
    )


def _bike(d, w, h, c, rng):
    for x in (0.18, 0.58):
        d.ellipse((w * x, h * 0.45, w * (x + 0.25), h * 0.8), outline=(35, 35, 35), width=10)
    d.line(
        [
            (w * 0.3, h * 0.62),
            (w * 0.45, h * 0.38),
            (w * 0.7, h * 0.62),
            (w * 0.5, h * 0.62),
            (w * 0.3, h * 0.62),
        ],
        fill=c,
        width=14,
    )
    d.line([(w * 0.45, h * 0.38), (w * 0.68, h * 0.38)], fill=c, width=14)


def _book(d, w, h, c, rng):
    d.rectangle((w * 0.32, h * 0.15, w * 0.68, h * 0.85), fill=c)
    d.rectangle((w * 0.32, h * 0.15, w * 0.36, h * 0.85), fill=_shade(c, -50))
    d.rectangle((w * 0.42, h * 0.3, w * 0.62, h * 0.36), fill=_shade(c, 90))


def _blocks(d, w, h, c, rng):
    for i, (x, y) in enumerate([(0.3, 0.55), (0.5, 0.55), (0.4, 0.3)]):
        d.rectangle((w * x, h * y, w * (x + 0.18), h * (y + 0.25)), fill=_shade(c, -25 * i))


def _drill(d, w, h, c, rng):
    d.rounded_rectangle((w * 0.25, h * 0.25, w * 0.65, h * 0.45), radius=18, fill=c)
    d.rectangle((w * 0.65, h * 0.32, w * 0.8, h * 0.38), fill=(90, 90, 90))
    d.polygon(
        [(w * 0.35, h * 0.45), (w * 0.48, h * 0.45), (w * 0.45, h * 0.8), (w * 0.32, h * 0.8)],
        fill=_shade(c, -40),
    )


def _box(d, w, h, c, rng):
    d.polygon(
        [(w * 0.3, h * 0.35), (w * 0.6, h * 0.25), (w * 0.75, h * 0.35), (w * 0.45, h * 0.45)],
        fill=_shade(c, 40),
    )
    d.polygon(
        [(w * 0.3, h * 0.35), (w * 0.45, h * 0.45), (w * 0.45, h * 0.85), (w * 0.3, h * 0.75)],
        fill=c,
    )
    d.polygon(
        [(w * 0.45, h * 0.45), (w * 0.75, h * 0.35), (w * 0.75, h * 0.75), (w * 0.45, h * 0.85)],
        fill=_shade(c, -40),
    )


_DRAWERS = {
    "device": _device, "phone": _phone, "laptop": _laptop, "mug": _mug, "chair": _chair,
    "shirt": _shirt, "stroller": _stroller, "ball": _ball, "bike": _bike, "book": _book,
    "blocks": _blocks, "drill": _drill, "box": _box,
}  # fmt: skip
assert set(_DRAWERS) == set(SHAPES)
