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

    @classmethod
    def from_jpeg(cls, jpeg: bytes) -> "ModelImage":
        """A model image prepared earlier (the run stores it); only the header is read."""
        with Image.open(io.BytesIO(jpeg)) as image:
            return cls(jpeg=jpeg, width=image.width, height=image.height)


def image_prepare_for_model(data: bytes, *, max_side: int, quality: int) -> ModelImage:
    """Downscale any accepted photo (stored bytes) for the model.

    JPEG sources decode at a reduced DCT scale (draft), which makes a 12-megapixel photo cheap;
    `detail: low` models see at most 512x512, so sending more only costs bandwidth.
    """
    with Image.open(io.BytesIO(data)) as image:
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", (max_side, max_side))
        ImageOps.exif_transpose(image, in_place=True)  # the image is ours: no copy
        upright = image if image.mode == "RGB" else image.convert("RGB")
        return model_image_from_upright(upright, max_side=max_side, quality=quality)


def model_image_from_upright(image: Image.Image, *, max_side: int, quality: int) -> ModelImage:
    """The model image from pixels that are already upright RGB; `image` is left as it is.

    The upload intake hands over such pixels (marketplace.photos.ProcessedPhoto.upright), so a
    pre-fill does not decode its photo a second time. An exact box reduction first brings a
    large image to less than twice the target; from there bilinear (which Pillow widens to the
    scale, so it does not alias) costs 60% of bicubic. Against a Lanczos reference from the full
    photo it is 44.6 dB PSNR, as close as the quality-80 JPEG it is saved as (45 dB): the model
    cannot tell, and resampling is the largest CPU cost of the image (benchmarks/README.md).
    """
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)
    else:
        small = image.copy()  # ours to strip of metadata
    small.info = {}  # no EXIF, comment or profile travels to the provider
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=quality, optimize=True)
    return ModelImage(jpeg=out.getvalue(), width=small.width, height=small.height)
