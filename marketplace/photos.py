"""Photo intake: the one place that turns an uploaded file into images Trova stores and serves.

Listings and the AI pre-fill both take photos from strangers, so every upload goes through
`photo_process`: format allow-list, byte and pixel caps (decompression bombs), a full decode
(truncated files), EXIF orientation applied, metadata dropped, RGB, a bounded display size and a
thumbnail. Nothing is written to storage here; callers store the returned bytes, so a rejected
upload can never leave a file behind.

A JPEG that is already upright, sRGB and small enough (what the Sell page sends after resizing in
the browser) is not decoded and re-encoded for display: its metadata segments are cut out and the
compressed image is kept byte for byte (`jpeg_without_metadata`). That is lossless, and saves
the full-size decode and encode (about 15 ms of CPU per upload; benchmarks/README.md).
"""

import contextlib
import hashlib
import io
import logging
import math
import re
import struct
from dataclasses import dataclass, field

from django.conf import settings
from PIL import ExifTags, Image, ImageCms, ImageOps

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
    # The decoded upright RGB pixels the thumbnail was made from: the display image, or a reduced
    # decode of it no smaller than `keep_side` (or the photo). Lets a caller that needs its own
    # size (the AI pre-fill's model image) skip decoding the photo again. Never stored.
    upright: Image.Image = field(repr=False, compare=False)
    # The upload's own pixel size as its header says (before orientation and any shrinking):
    # what the seller's camera or app produced, for monitoring's input statistics.
    source_width: int = 0
    source_height: int = 0


def photo_process(upload, *, keep_side: int = 0) -> ProcessedPhoto:
    """Validate and normalise an uploaded file (anything with read(), e.g. an UploadedFile).

    `keep_side`: the long side the caller needs of `ProcessedPhoto.upright`, when it is more than
    the thumbnail's.
    """
    data = _read_capped(upload, settings.PHOTO_MAX_BYTES)
    image = _open_checked(data, settings.PHOTO_MAX_PIXELS)
    source_width, source_height = image.size  # before a reduced JPEG decode changes it
    clean = _jpeg_kept_as_is(image, data)
    if clean is not None:
        display = clean
        upright = _open_and_decode(clean, max(keep_side, settings.PHOTO_THUMBNAIL_MAX_SIDE))
    else:
        _decode_or_reject(image, settings.PHOTO_DISPLAY_MAX_SIDE)
        upright = _display_image(image)
        display = _jpeg(upright)
    # The thumbnail is smaller than the image it comes from: an exact box reduction first
    # (reducing_gap=1) costs a fifth of a full Lanczos pass and looks the same at 400 px.
    thumbnail = _jpeg(_shrunk(upright, settings.PHOTO_THUMBNAIL_MAX_SIDE, reducing_gap=1.0))
    return ProcessedPhoto(
        display=display,
        thumbnail=thumbnail,
        width=image.width if clean is not None else upright.width,
        height=image.height if clean is not None else upright.height,
        sha256=hashlib.sha256(display).hexdigest(),
        source_format="JPEG" if image.format == "MPO" else image.format,
        upright=upright,
        source_width=source_width,
        source_height=source_height,
    )


def _display_image(image: Image.Image) -> Image.Image:
    if image.mode in SHRINK_FIRST_MODES:
        # Colour conversion and flattening cost per pixel: do them at display size.
        return _to_upright_rgb(_shrunk(image, settings.PHOTO_DISPLAY_MAX_SIDE))
    # palette and 16-bit images would resample badly before conversion
    return _shrunk(_to_upright_rgb(image), settings.PHOTO_DISPLAY_MAX_SIDE)


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
    """Open, then check format, animation and pixel count from the header (no decoding yet)."""
    with _rejecting_bad_files():
        # Our own pixel cap is checked from the header before any decoding. Pillow's bomb check
        # (a warning above MAX_IMAGE_PIXELS, an error above twice that) stays as a second net;
        # a process-wide warnings filter here would not be thread-safe.
        image = Image.open(io.BytesIO(data))
        _check_header(image, max_pixels)
    return image


def _decode_or_reject(image: Image.Image, min_side: int) -> None:
    with _rejecting_bad_files():
        _decode(image, min_side)


def _open_and_decode(data: bytes, min_side: int) -> Image.Image:
    with _rejecting_bad_files():
        image = Image.open(io.BytesIO(data))
        _decode(image, min_side)
    return image


@contextlib.contextmanager
def _rejecting_bad_files():
    """Whatever Pillow raises on hostile or broken bytes becomes a sentence for the seller."""
    try:
        yield
    except PhotoRejected:
        raise
    except Image.DecompressionBombError:
        max_pixels = settings.PHOTO_MAX_PIXELS
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


def _decode(image: Image.Image, min_side: int) -> None:
    """Decode every byte of the image: verify() would not catch a truncated file; load() does.

    A JPEG can decode at 1/2, 1/4, 1/8 scale for a fraction of the cost (the whole compressed
    stream is still read); keep at least min_side on the long side."""
    if image.format in ("JPEG", "MPO") and max(image.size) > min_side:
        scale = min_side / max(image.size)
        image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
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


# --- JPEGs kept as they are ------------------------------------------------------------------
# Marker bytes (ITU T.81, table B.1). A frame is Huffman-coded baseline, extended or progressive:
# every browser decodes those; arithmetic-coded, lossless and hierarchical JPEGs are re-encoded.
_EOI, _SOS, _APP14, _COM = 0xD9, 0xDA, 0xEE, 0xFE
_FRAMES = {0xC0, 0xC1, 0xC2}
_TABLES = {0xC4, 0xDB, 0xDD}  # Huffman tables, quantisation tables, restart interval
_APPS = range(0xE0, 0xF0)  # APP0..APP15: JFIF, EXIF, XMP, ICC, MPF, IPTC, comments of all kinds
# In compressed data a 0xFF byte is followed by 0x00 (a stuffed 0xFF) or a restart marker RSTn;
# anything else after it starts the next segment. (At the very end, no byte follows: no match.)
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7]", re.DOTALL)
# A plain JFIF header (version 1.1, 1:1 aspect, no thumbnail), so decoders read the three
# components as YCbCr exactly as they read the original.
_JFIF_APP0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
_RGB_COMPONENT_IDS = b"RGB"  # an RGB-coded JPEG without an Adobe marker says so by its ids


def _jpeg_kept_as_is(image: Image.Image, data: bytes) -> bytes | None:
    """The upload's own JPEG without metadata, when nothing else about it has to change."""
    if image.format not in ("JPEG", "MPO") or image.mode != "RGB":
        return None
    if max(image.size) > settings.PHOTO_DISPLAY_MAX_SIDE or image.info.get("icc_profile"):
        return None  # too large, or colours that need converting to sRGB
    if _exif_orientation(image) != 1:
        return None
    return jpeg_without_metadata(data)


def _exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except (SyntaxError, OSError, ValueError, KeyError, TypeError, struct.error):
        return 1  # unreadable EXIF means no orientation, as in _exif_upright


def jpeg_without_metadata(data: bytes) -> bytes | None:
    """Keep only the segments a decoder needs (tables, frame, scans) and a plain JFIF header.

    Drops every APPn and COM segment (EXIF with GPS and camera serials, XMP, IPTC, ICC, MPF and
    the gain maps or previews it points to after the image) and anything after the image's end.
    The compressed scans are copied byte for byte, so the pixels are exactly the upload's.
    None when the file is not one this can vouch for; the caller then re-encodes it.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    kept = [b"\xff\xd8", _JFIF_APP0]
    position, frame_seen, scan_seen = 2, False, False
    while True:
        marker, position = _next_marker(data, position)
        if marker is None:
            return None
        if marker == _EOI:
            return b"".join((*kept, b"\xff\xd9")) if scan_seen else None
        segment_end = _segment_end(data, position)
        if segment_end is None:
            return None
        segment = b"\xff" + bytes((marker,)) + data[position:segment_end]
        if marker == _APP14:  # Adobe: says how colours were transformed; cannot be dropped
            return None
        if marker in _APPS or marker == _COM:
            pass
        elif marker in _FRAMES:
            if frame_seen or not _plain_frame(data[position + 2 : segment_end]):
                return None
            frame_seen = True
            kept.append(segment)
        elif marker in _TABLES:
            kept.append(segment)
        elif marker == _SOS and frame_seen:
            scan_end = _entropy_data_end(data, segment_end)
            if scan_end is None:
                return None
            kept.extend((segment, data[segment_end:scan_end]))
            scan_seen = True
            segment_end = scan_end
        else:  # arithmetic coding tables, DNL, hierarchical markers, a scan before its frame
            return None
        position = segment_end


def _next_marker(data: bytes, position: int) -> tuple[int | None, int]:
    """The marker at `position` (after any 0xFF fill bytes) and where its segment starts."""
    if position >= len(data) or data[position] != 0xFF:
        return None, position
    while position < len(data) and data[position] == 0xFF:
        position += 1
    if position >= len(data):
        return None, position
    return data[position], position + 1


def _segment_end(data: bytes, position: int) -> int | None:
    if position + 2 > len(data):
        return None
    length = int.from_bytes(data[position : position + 2], "big")
    end = position + length
    return end if length >= 2 and end <= len(data) else None


def _plain_frame(frame: bytes) -> bool:
    """8-bit samples, a height in the header, and three YCbCr components."""
    if len(frame) < 6:
        return False
    precision, height, components = frame[0], int.from_bytes(frame[1:3], "big"), frame[5]
    if precision != 8 or height == 0 or components != 3 or len(frame) < 6 + 3 * components:
        return False
    return frame[6:15:3] != _RGB_COMPONENT_IDS


def _entropy_data_end(data: bytes, position: int) -> int | None:
    """Where a scan's compressed data ends: the next 0xFF that is not a stuffed 0x00 or RSTn."""
    found = _MARKER_IN_SCAN.search(data, position)
    return found.start() if found else None  # None: the file ends inside a scan
