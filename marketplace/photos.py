"""Photo intake: the one place that turns an uploaded file into images Trova stores and serves.

Listings and the AI pre-fill both take photos from strangers, so every upload goes through
`photo_process`: format allow-list, byte and pixel caps (decompression bombs), a full decode
(truncated files), EXIF orientation applied, metadata dropped, RGB, a bounded display size and a
thumbnail. Nothing is written to storage here; callers store the returned bytes, so a rejected
upload can never leave a file behind.
"""

import hashlib
import io
import logging
import struct
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageCms, ImageOps

logger = logging.getLogger(__name__)

# Pillow format name -> what the seller calls it. GIF is left out on purpose: animations and
# palette art are not product photos, and the AI providers only take still images.
ALLOWED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "HEIC/HEIF", "MPO": "JPEG"}
# Containers whose extra images are not frames of an animation: a HEIC may hold a burst or a depth
# map, and Pillow opens a JPEG carrying an MPF index (Ultra HDR gain map, depth map, large preview:
# most current phone cameras) as "MPO". The first image is the photo in both.
STILL_CONTAINERS = {"HEIF", "MPO"}
# 16-bit greyscale (PNG from scanners and editors): convert("RGB") would clip it to white.
WIDE_GREY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
ALLOWED_HUMAN = "JPEG, PNG, WEBP or HEIC"
# Modes that resample well as they are, so the image can be shrunk before the per-pixel work.
SHRINK_FIRST_MODES = {"RGB", "RGBA", "L", "LA", "CMYK"}
JPEG_QUALITY = 85


class PhotoRejected(ValueError):
    """An upload that cannot become a photo; `message` is written for the seller."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ProcessedPhoto:
    display: bytes  # JPEG, longest side <= PHOTO_DISPLAY_MAX_SIDE, no metadata
    thumbnail: bytes  # JPEG, longest side <= PHOTO_THUMBNAIL_MAX_SIDE, no metadata
    width: int
    height: int
    sha256: str  # of `display`: identifies the image the site and the AI actually see
    source_format: str


def photo_process(upload) -> ProcessedPhoto:
    """Validate and normalise an uploaded file (anything with read(), e.g. an UploadedFile)."""
    data = _read_capped(upload, settings.PHOTO_MAX_BYTES)
    image = _open_checked(data, settings.PHOTO_MAX_PIXELS)
    if image.mode in SHRINK_FIRST_MODES:
        # Colour conversion and flattening cost per pixel: do them at display size.
        upright = _to_upright_rgb(_shrunk(image, settings.PHOTO_DISPLAY_MAX_SIDE))
    else:  # palette and 16-bit images would resample badly before conversion
        upright = _shrunk(_to_upright_rgb(image), settings.PHOTO_DISPLAY_MAX_SIDE)
    display = _jpeg(upright)
    # A thumbnail is at least 4x smaller than the display image: an exact box reduction first
    # (reducing_gap=1) costs a fifth of a full Lanczos pass and looks the same at 400 px.
    thumbnail = _jpeg(_shrunk(upright, settings.PHOTO_THUMBNAIL_MAX_SIDE, reducing_gap=1.0))
    return ProcessedPhoto(
        display=display,
        thumbnail=thumbnail,
        width=upright.width,
        height=upright.height,
        sha256=hashlib.sha256(display).hexdigest(),
        source_format="JPEG" if image.format == "MPO" else image.format,
    )


def _read_capped(upload, max_bytes: int) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise PhotoRejected(_too_big_message(max_bytes), code="too_large")
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PhotoRejected(_too_big_message(max_bytes), code="too_large")
    if not data:
        raise PhotoRejected("The file is empty.", code="empty")
    return data


def _too_big_message(max_bytes: int) -> str:
    return f"The photo is too large; the limit is {_human_bytes(max_bytes)}."


def _human_bytes(count: int) -> str:
    # Integer division said "0 MB" for a limit under 1 MB and "1 MB" for 1.9 MB.
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if count >= size:
            return f"{_short_number(count / size)} {unit}"
    return f"{count} bytes"


def _short_number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open, check format, animation and pixel count from the header, then decode fully."""
    try:
        # Our own pixel cap is checked from the header before any decoding. Pillow's bomb check
        # (a warning above MAX_IMAGE_PIXELS, an error above twice that) stays as a second net;
        # a process-wide warnings filter here would not be thread-safe.
        image = Image.open(io.BytesIO(data))
        _check_header(image, max_pixels)
        _decode(image)
    except PhotoRejected:
        raise
    except Image.DecompressionBombError:
        raise PhotoRejected(_too_many_pixels_message(max_pixels), code="too_many_pixels") from None
    except Image.UnidentifiedImageError:
        raise PhotoRejected(
            f"This file is not an image we can read. Please upload a {ALLOWED_HUMAN} photo.",
            code="not_an_image",
        ) from None
    except Exception as exc:  # Pillow raises many types on hostile bytes; all mean "bad file".
        logger.info("photo decode failed: %r", exc)
        raise PhotoRejected(
            "The image is damaged or incomplete. Please upload the photo again.", code="corrupt"
        ) from None
    return image


def _check_header(image: Image.Image, max_pixels: int) -> None:
    if image.format not in ALLOWED_FORMATS:
        raise PhotoRejected(
            f"{image.format or 'These'} files are not accepted. "
            f"Please upload a {ALLOWED_HUMAN} photo.",
            code="unsupported_format",
        )
    if getattr(image, "is_animated", False) and image.format not in STILL_CONTAINERS:
        raise PhotoRejected(
            "Animated images are not accepted. Please upload a still photo.", code="animated"
        )
    width, height = image.size
    if width * height > max_pixels:
        raise PhotoRejected(_too_many_pixels_message(max_pixels), code="too_many_pixels")
    if min(width, height) < 1:
        raise PhotoRejected("The image has no pixels.", code="corrupt")


def _decode(image: Image.Image) -> None:
    # A JPEG can decode at 1/2, 1/4, 1/8 scale for a fraction of the cost; keep enough pixels
    # for the display size. verify() would not catch a truncated file; load() does.
    if image.format in ("JPEG", "MPO"):
        side = settings.PHOTO_DISPLAY_MAX_SIDE
        image.draft("RGB", (side, side))
    image.load()


def _too_many_pixels_message(max_pixels: int) -> str:
    megapixels = _short_number(max_pixels / 1_000_000)
    return f"The image has too many pixels; the limit is {megapixels} megapixels."


def _to_upright_rgb(image: Image.Image) -> Image.Image:
    upright = _exif_upright(image)
    if upright.mode in WIDE_GREY_MODES:
        upright = upright.point(lambda value: value * (1 / 256)).convert("L")
    upright = _to_srgb(upright)
    if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        upright = flat
    # convert() always copies; a 2-megapixel copy is not free when 50 sellers upload at once.
    return upright if upright.mode == "RGB" else upright.convert("RGB")


def _exif_upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; unreadable EXIF means no orientation, not a lost photo.

    In place: the image is ours, and exif_transpose() would otherwise copy it even when the
    orientation is already upright."""
    try:
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except (SyntaxError, OSError, ValueError, KeyError, struct.error):
        return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert photos with an embedded colour profile (e.g. Display P3) to sRGB, then drop it."""
    icc = image.info.get("icc_profile")
    # A palette "transparent colour" would not survive the conversion; such images are rare.
    if not icc or image.mode not in ("RGB", "RGBA") or "transparency" in image.info:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(image, source, srgb, outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError):
        return image  # a broken profile is not worth rejecting the photo over


def _shrunk(image: Image.Image, max_side: int, *, reducing_gap: float = 2.0) -> Image.Image:
    """No larger than max_side (metadata kept: orientation and profile still apply). An image
    that already fits is returned as it is: every copy of a full-size photo costs milliseconds,
    which is also why this resizes into a new image instead of copying and shrinking the copy."""
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=reducing_gap)


def _jpeg(image: Image.Image) -> bytes:
    # A new Image still carries info (a JPEG comment is copied on save); clear all metadata.
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
