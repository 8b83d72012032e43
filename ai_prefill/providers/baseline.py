"""The offline baseline: what can honestly be read from the pixels, and nothing else.

It reads the item's main colour (the largest colour cluster that is not the background, taken
from the border of the photo). Everything it cannot know stays empty: no title, description,
brand or price. Category and condition are required by the schema, so it gives the catch-all
category "other" and the most common condition "good": a prior, not a reading. This is the floor
every model must beat in evals, and what the site uses when no API key is set.
"""

import io
import json
from collections import Counter

from PIL import Image

from marketplace.colors import nearest_color_name

from ..schema import ListingDraft
from .base import ProviderRequest, ProviderResult, Usage

SAMPLE_SIDE = 64
BACKGROUND_DISTANCE = 40  # per-channel sum below which a pixel counts as background


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
    with Image.open(io.BytesIO(jpeg)) as image:
        small = image.convert("RGB").resize((SAMPLE_SIDE, SAMPLE_SIDE))
    pixels = list(small.get_flattened_data())
    background = _border_color(small)
    foreground = [p for p in pixels if _distance(p, background) > BACKGROUND_DISTANCE]
    if len(foreground) < len(pixels) * 0.02:  # nothing stands out from the background
        return None
    names = Counter(nearest_color_name(p) for p in foreground)
    return names.most_common(1)[0][0]


def _border_color(image: Image.Image) -> tuple[int, int, int]:
    w, h = image.size
    border = [image.getpixel((x, y)) for x in range(w) for y in (0, h - 1)]
    border += [image.getpixel((x, y)) for y in range(h) for x in (0, w - 1)]
    return tuple(sorted(channel)[len(channel) // 2] for channel in zip(*border, strict=True))


def _distance(a, b) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))
