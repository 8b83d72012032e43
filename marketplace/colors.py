"""The plain colour names Trova uses, with a reference RGB value for each."""

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


def nearest_color_name(rgb: tuple[int, int, int]) -> str:
    """The named colour closest to `rgb` (squared distance, weighted like human luminance)."""

    def distance(reference):
        dr, dg, db = (a - b for a, b in zip(rgb, reference, strict=True))
        return 2 * dr * dr + 4 * dg * dg + 3 * db * db

    return min(NAMED_COLORS, key=lambda name: distance(NAMED_COLORS[name]))
