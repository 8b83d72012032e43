"""The image as the model sees it: upright, RGB, small, JPEG, no metadata."""

import base64
import io
from dataclasses import dataclass

from PIL import Image, ImageOps


@dataclass(frozen=True)
class ModelImage:
    jpeg: bytes
    width: int
    height: int

    @property
    def data_url(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def image_prepare_for_model(data: bytes, *, max_side: int, quality: int) -> ModelImage:
    """Downscale any accepted photo for the model.

    JPEG sources decode at a reduced DCT scale (draft), which makes a 12-megapixel photo cheap;
    `detail: low` models see at most 512x512, so sending more only costs bandwidth. After the
    draft the image is less than twice the target, where bicubic looks like Lanczos at two
    thirds of its cost (Pillow's resampling is the largest CPU cost of a pre-fill call).
    """
    with Image.open(io.BytesIO(data)) as image:
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", (max_side, max_side))
        ImageOps.exif_transpose(image, in_place=True)  # the image is ours: no copy
        upright = image if image.mode == "RGB" else image.convert("RGB")
        upright.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
        upright.info = {}  # no EXIF, comment or profile travels to the provider
        out = io.BytesIO()
        upright.save(out, format="JPEG", quality=quality, optimize=True)
        return ModelImage(jpeg=out.getvalue(), width=upright.width, height=upright.height)
