"""Product-like pictures drawn by the project itself (no downloads, no third-party assets).

Each picture is a simple sketch of an object of one kind in one main colour on a light
background, with its brand written on it when it has one (Pillow's own default font, no font
file), so the demo data looks like a marketplace and what the starter eval set expects can be
read from the picture: the kind from the shape, the colour from the pixels, the brand from the
text.
"""

import io
import random

from PIL import Image, ImageDraw, ImageFont

from .colors import NAMED_COLORS as COLORS

# Shape families; every category in the demo catalog maps to one of these.
SHAPES = ("speaker", "camera", "tv", "headphones", "phone", "tablet", "laptop", "mug", "chair",
          "shirt", "stroller", "ball", "bike", "book", "blocks", "drill", "box")  # fmt: skip


def render_item(
    *,
    shape: str,
    color: str,
    seed: int = 0,
    size: tuple[int, int] = (800, 600),
    label: str = "",
) -> bytes:
    """A JPEG of a `shape` in `color` with a little deterministic variation from `seed`, and
    `label` (the brand) written on the item."""
    rng = random.Random(f"{shape}:{color}:{seed}")
    background = tuple(rng.randint(222, 240) for _ in range(3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.15, h * 0.82, w * 0.85, h * 0.95), fill=tuple(c - 25 for c in background))
    _DRAWERS[shape](draw, w, h, COLORS[color], rng)
    if label:
        _write_label(draw, w, h, shape, COLORS[color], label)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def _shade(rgb, amount: int):
    return tuple(max(0, min(255, c + amount)) for c in rgb)


# Where the label goes on each shape: centre (x, y) and the width it may take, as fractions of
# the picture, and whether it sits on a dark screen rather than on the item's colour.
_LABELS = {
    "speaker": (0.5, 0.69, 0.2, False), "camera": (0.36, 0.41, 0.14, False),
    "tv": (0.5, 0.665, 0.2, False), "headphones": (0.5, 0.175, 0.12, False),
    "phone": (0.5, 0.4, 0.16, True), "tablet": (0.5, 0.45, 0.3, True),
    "laptop": (0.5, 0.4, 0.3, True), "mug": (0.475, 0.55, 0.2, False),
    "chair": (0.5, 0.32, 0.24, False), "shirt": (0.5, 0.42, 0.3, False),
    "stroller": (0.475, 0.5, 0.3, False), "ball": (0.5, 0.3, 0.3, False),
    "bike": (0.56, 0.38, 0.2, False), "book": (0.52, 0.55, 0.28, False),
    "blocks": (0.49, 0.42, 0.17, False), "drill": (0.45, 0.35, 0.3, False),
    "box": (0.375, 0.6, 0.12, False),
}  # fmt: skip


def _write_label(d, w, h, shape, c, text):
    x, y, width, on_screen = _LABELS[shape]
    dark = on_screen or (0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]) < 140
    ink = (245, 245, 245) if dark else (20, 20, 24)
    size = int(h * 0.07)
    font = ImageFont.load_default(size=size)
    while size > 10 and d.textlength(text, font=font) > w * width:
        size -= 2
        font = ImageFont.load_default(size=size)
    d.text((w * x, h * y), text, fill=ink, font=font, anchor="mm")


def _speaker(d, w, h, c, rng):
    """A portable speaker standing up: two drivers behind the grille, a band for the name."""
    d.rounded_rectangle((w * 0.37, h * 0.14, w * 0.63, h * 0.8), radius=int(w * 0.12), fill=c)
    for y in (0.3, 0.52):
        r = h * 0.09
        d.ellipse((w * 0.5 - r, h * y - r, w * 0.5 + r, h * y + r), fill=_shade(c, -70))
        d.ellipse((w * 0.5 - r / 3, h * y - r / 3, w * 0.5 + r / 3, h * y + r / 3), fill=c)


def _camera(d, w, h, c, rng):
    d.rectangle((w * 0.3, h * 0.25, w * 0.42, h * 0.33), fill=c)  # viewfinder hump
    d.rectangle((w * 0.6, h * 0.28, w * 0.66, h * 0.33), fill=(90, 90, 95))  # shutter button
    d.rounded_rectangle((w * 0.25, h * 0.32, w * 0.75, h * 0.72), radius=16, fill=c)
    r = h * 0.15
    cx, cy = w * 0.56, h * 0.53
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(60, 62, 70))  # lens barrel
    d.ellipse((cx - r * 0.6, cy - r * 0.6, cx + r * 0.6, cy + r * 0.6), fill=(25, 30, 50))
    d.ellipse((cx - r * 0.2, cy - r * 0.45, cx, cy - r * 0.25), fill=(200, 210, 230))  # glint


def _tv(d, w, h, c, rng):
    d.rectangle((w * 0.46, h * 0.7, w * 0.54, h * 0.8), fill=_shade(c, -20))  # neck
    d.rectangle((w * 0.34, h * 0.79, w * 0.66, h * 0.83), fill=_shade(c, -20))  # foot
    d.rectangle((w * 0.1, h * 0.12, w * 0.9, h * 0.71), fill=c)  # bezel, wider at the bottom
    d.rectangle((w * 0.12, h * 0.15, w * 0.88, h * 0.63), fill=(35, 45, 70))  # screen


def _headphones(d, w, h, c, rng):
    d.arc((w * 0.26, h * 0.14, w * 0.74, h * 0.86), start=180, end=360, fill=c, width=int(h * 0.07))
    for x in (0.2, 0.66):  # ear cups with their cushions
        d.rounded_rectangle((w * x, h * 0.45, w * (x + 0.14), h * 0.78), radius=22, fill=c)
        inner = x + 0.1 if x < 0.5 else x
        d.rounded_rectangle(
            (w * inner, h * 0.48, w * (inner + 0.04), h * 0.75), radius=8, fill=_shade(c, -50)
        )


def _tablet(d, w, h, c, rng):
    d.rounded_rectangle((w * 0.27, h * 0.1, w * 0.73, h * 0.86), radius=24, fill=c)
    d.rounded_rectangle((w * 0.29, h * 0.13, w * 0.71, h * 0.83), radius=8, fill=(20, 22, 30))


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
    d.line([(w * 0.45, h * 0.38), (w * 0.68, h * 0.38)], fill=c, width=int(h * 0.06))


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
    "speaker": _speaker, "camera": _camera, "tv": _tv, "headphones": _headphones,
    "tablet": _tablet, "phone": _phone, "laptop": _laptop, "mug": _mug, "chair": _chair,
    "shirt": _shirt, "stroller": _stroller, "ball": _ball, "bike": _bike, "book": _book,
    "blocks": _blocks, "drill": _drill, "box": _box,
}  # fmt: skip
assert set(_DRAWERS) == set(SHAPES)
