"""The project's own product pictures: one shape per kind of item, the brand written on it."""

import io
from itertools import combinations

import numpy as np
from PIL import Image

from marketplace.demo_catalog import CATALOG
from marketplace.sample_images import render_item


def _pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=int)


def _item_mask(shape: str) -> np.ndarray:
    """Where the item is: far from the background (the top-left corner's colour)."""
    pixels = _pixels(render_item(shape=shape, color="black"))
    return np.abs(pixels - pixels[0, 0]).sum(axis=2) > 100  # the shadow is 75 away


def test_a_speaker_a_camera_a_tv_and_headphones_are_four_different_pictures():
    electronics = {item.title: item.shape for item in CATALOG if item.category == "electronics"}
    assert len(set(electronics.values())) == len(electronics) == 4, electronics
    for a, b in combinations(electronics.values(), 2):
        mask_a, mask_b = _item_mask(a), _item_mask(b)
        overlap = (mask_a & mask_b).sum() / (mask_a | mask_b).sum()
        assert overlap < 0.6, f"{a} and {b} look alike ({overlap:.2f} of their silhouettes overlap)"


def test_the_phone_and_the_tablet_are_different_pictures():
    shapes = {item.title: item.shape for item in CATALOG}
    assert shapes["10 inch tablet"] != shapes["Android phone"]


def test_the_brand_is_written_on_the_item():
    plain = _pixels(render_item(shape="speaker", color="blue", seed=1))
    branded = _pixels(render_item(shape="speaker", color="blue", seed=1, label="JBL"))
    changed = np.abs(branded - plain).sum(axis=2) > 60
    item = np.abs(plain - plain[0, 0]).sum(axis=2) > 60
    assert changed.sum() > 200, "the text is drawn large enough to read"
    assert (changed & ~item).sum() == 0, "on the item, not beside it"
