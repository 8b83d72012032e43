"""The plain colour names Trova uses, with a reference RGB value for each."""

import numpy as np

NAMED_COLORS = {
    "black": (30, 30, 32),
    "white": (245, 245, 242),
    "grey": (128, 130, 135),
    "silver": (190, 192, 198),
    "red": (200, 35, 40),
    "blue": (35, 80, 190),
    "green": (40, 140, 70),
    "yellow": (240, 200, 30),
    "orange": (240, 130, 30),
    "pink": (235, 120, 170),
    "purple": (120, 60, 160),
    "brown": (120, 75, 40),
    "beige": (215, 195, 160),
}


_NAMES = np.array(list(NAMED_COLORS), dtype=object)
_REFERENCES = np.array(list(NAMED_COLORS.values()), dtype=np.float64)
# Squared RGB distance weighted like human luminance (green counts most, then blue, then red).
_CHANNEL_WEIGHTS = np.array([2.0, 4.0, 3.0])


def nearest_color_names(pixels: np.ndarray) -> np.ndarray:
    """The closest named colour of every RGB pixel of `pixels` (shape (..., 3)), same shape
    without the last axis. Ties go to the name listed first in NAMED_COLORS."""
    differences = np.asarray(pixels, dtype=np.float64)[..., None, :] - _REFERENCES
    distances = (differences**2 * _CHANNEL_WEIGHTS).sum(axis=-1)
    return _NAMES[distances.argmin(axis=-1)]
