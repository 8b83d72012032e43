"""The offline baseline: what can honestly be read from the pixels, and nothing else.

It reads the item's main colour (see `dominant_item_color`), as one of the project's canonical
colour names. Everything it cannot know stays empty: no title, description,
brand or price. Category and condition are required by the schema, so it gives the catch-all
category "other" and the most common condition "good": a prior, not a reading. This is the floor
every model must beat in evals, and what the site uses when no API key is set.
"""

import io
import json
from collections import Counter

import numpy as np
from PIL import Image
from scipy.ndimage import binary_erosion, generate_binary_structure

from marketplace.colors import nearest_color_names

from ..schema import ListingDraft
from .base import ProviderRequest, ProviderResult, Usage

SAMPLE_SIDE = 96
BORDER = 3  # rows and columns of the sample that show the background
BACKGROUND_CLUSTERS = 4
MIN_BACKGROUND_SHARE = 0.10  # of the border, for a cluster to count as background
MIN_BACKGROUND_RADIUS = 18.0  # RGB distance: JPEG noise and soft edges on a plain background
BACKGROUND_SPREADS = 2.5  # a textured background (wood grain) reaches this far from its centre
MIN_ITEM_SHARE = 0.02
CENTRE_SIGMA = 0.25  # of the picture's side
ACHROMATIC = frozenset({"black", "white", "grey", "silver"})
CHROMATIC_WEIGHT = 2.0


class BaselineProvider:
    name = "baseline"

    def describe(self) -> dict:
        return {}

    def generate(self, request: ProviderRequest) -> ProviderResult:
        color = dominant_item_color(request.image.jpeg)
        draft = ListingDraft(
            title="",
            description="",
            category="other",
            condition="good",
            brand=None,
            color=color,
            price_eur=None,
        )
        raw = {"provider": self.name, "output_text": json.dumps(draft.model_dump())}
        return ProviderResult(draft=draft, raw=raw, usage=Usage(0, 0, 0))


def dominant_item_color(jpeg: bytes) -> str | None:
    """The canonical colour name (marketplace.colors) of the item in the photo, or None.

    The background is what the photo's border shows (a wall and a floor are two colours, a wooden
    floor a spread of browns), so it is learnt as a few colour clusters of the border. Of the
    rest, pixels near the centre count more (the item is framed there, shadows and clutter are
    at the edges). The item's outline votes as much as its whole area, because what an item is
    "in" surrounds its details (a phone's body around its black screen). A chromatic colour
    counts more than black, white, grey or silver, which on a coloured item are mostly screens,
    tyres, soles, shadows and highlights.
    """
    with Image.open(io.BytesIO(jpeg)) as image:
        small = image.convert("RGB").resize((SAMPLE_SIDE, SAMPLE_SIDE))
    pixels = np.asarray(small, dtype=np.float64)
    foreground = ~_background_mask(pixels)
    if foreground.mean() < MIN_ITEM_SHARE:  # nothing stands out from the background
        return None
    weights = _centre_weights(SAMPLE_SIDE) * foreground
    inside = _erode(foreground)  # the first ring blends with the background: skip it
    outline = inside & ~_erode(inside)
    names = nearest_color_names(pixels)
    votes: Counter[str] = Counter()
    for part in (weights, weights * outline):  # the whole item, then its outline, as shares
        total = part.sum()
        for name in set(names[foreground]):
            share = part[names == name].sum() / total
            votes[name] += share * (1.0 if name in ACHROMATIC else CHROMATIC_WEIGHT)
    return max(votes, key=lambda name: votes[name])


def _erode(mask: np.ndarray) -> np.ndarray:
    """True where a pixel and its four neighbours are all in `mask` (the picture's edge is out)."""
    return binary_erosion(mask, structure=generate_binary_structure(2, 1), border_value=0)


def _background_mask(pixels: np.ndarray) -> np.ndarray:
    """True where a pixel is close to one of the border's main colour clusters."""
    border = np.concatenate(
        [
            pixels[:BORDER].reshape(-1, 3),
            pixels[-BORDER:].reshape(-1, 3),
            pixels[BORDER:-BORDER, :BORDER].reshape(-1, 3),
            pixels[BORDER:-BORDER, -BORDER:].reshape(-1, 3),
        ]
    )
    centres, labels = _kmeans(border, BACKGROUND_CLUSTERS)
    mask = np.zeros(pixels.shape[:2], dtype=bool)
    for k, centre in enumerate(centres):
        members = border[labels == k]
        if len(members) < MIN_BACKGROUND_SHARE * len(border):
            continue  # a small cluster on the border is the item touching the edge
        spread = np.percentile(np.linalg.norm(members - centre, axis=1), 90)
        radius = max(MIN_BACKGROUND_RADIUS, BACKGROUND_SPREADS * spread)
        mask |= np.linalg.norm(pixels - centre, axis=2) <= radius
    return mask


def _kmeans(points: np.ndarray, k: int, iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Plain Lloyd's k-means, started deterministically from points spread over brightness.

    Not scipy's kmeans2: on a plain background most clusters are empty, for which kmeans2 warns
    on every photo, and silencing that with warnings.catch_warnings is not thread-safe (run_evals
    calls the provider from a thread pool)."""
    order = np.argsort(points.sum(axis=1))
    centres = points[order[np.linspace(0, len(points) - 1, k).astype(int)]]
    for _ in range(iterations):
        distances = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)
        labels = distances.argmin(axis=1)
        centres = np.array(
            [
                points[labels == i].mean(axis=0) if (labels == i).any() else centres[i]
                for i in range(k)
            ]
        )
    return centres, labels


def _centre_weights(side: int) -> np.ndarray:
    """A Gaussian bump over the picture: 1 at the centre, about 0.14 in the corners."""
    axis = (np.arange(side) + 0.5) / side - 0.5
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    return np.exp(-(xx**2 + yy**2) / (2 * CENTRE_SIGMA**2))
