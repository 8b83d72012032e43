"""Bad and tricky photo files, generated on the fly so that nothing is downloaded or committed.

Shared by the intake's unit tests (marketplace/tests/test_photos.py) and the tests that push the
same files through the Sell page and the API (listings/tests/test_photo_uploads.py).
"""

import functools
import io
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageCms, ImageDraw

from marketplace.sample_images import render_item

BACKGROUND = (40, 90, 200)
MARKER = (255, 0, 0)
MARKER_BOX = (0, 0, 30, 20)  # top-left corner of a 120x80 landscape
ORIENTATION = 0x0112
CAMERA_MAKE = "TrovaCam"
COMMENT = b"Shot at Via Roma 12, flat 3"
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (45.0, 27.0, 12.5),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (9.0, 11.0, 3.0),
}
XMP = b"<x:xmpmeta><rdf:Description City='Via Roma'/></x:xmpmeta>"


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


@functools.cache
def product_jpeg() -> bytes:
    """An ordinary product photo, as a seller's phone would send it."""
    return render_item(shape="mug", color="red", size=(400, 300))


def marked_landscape() -> Image.Image:
    """A 120x80 blue landscape with a red marker in its top-left corner."""
    image = Image.new("RGB", (120, 80), BACKGROUND)
    ImageDraw.Draw(image).rectangle(MARKER_BOX, fill=MARKER)
    return image


@functools.cache
def sideways_jpeg_with_private_metadata(*, icc: bool = False) -> bytes:
    """A phone photo held upright: pixels stored landscape, EXIF orientation 6 (turn 90° clockwise),
    plus what must never reach the public site: GPS position, camera make, a comment, XMP and,
    with `icc`, a colour profile (the intake converts those, which takes another code path)."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[ExifTags.Base.Make] = CAMERA_MAKE
    exif[ExifTags.IFD.GPSInfo] = GPS
    params = {"exif": exif, "comment": COMMENT, "xmp": XMP}
    if icc:
        params["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(marked_landscape(), "JPEG", quality=95, **params)


@functools.cache
def upright_jpeg_with_private_metadata(*, progressive: bool = False) -> bytes:
    """A photo that needs no turning, resizing or colour conversion (the intake keeps its JPEG
    data as it is), carrying what must never reach the public site anyway: EXIF with GPS and
    camera make, a comment, XMP, an IPTC block (APP13, which Pillow cannot write) and bytes
    appended after the image, where phones put gain maps and editors put their own data."""
    exif = Image.Exif()
    exif[ORIENTATION] = 1
    exif[ExifTags.Base.Make] = CAMERA_MAKE
    exif[ExifTags.IFD.GPSInfo] = GPS
    params = {"exif": exif, "comment": COMMENT, "xmp": XMP, "quality": 90}
    if progressive:
        params["progressive"] = True
    else:  # restart markers inside the compressed data must be kept too
        params["restart_marker_blocks"] = 4
    whole = encode(marked_landscape(), "JPEG", **params)
    iptc = b"Photoshop 3.0\x00" + b"8BIM\x04\x04\x00\x00\x00\x00\x00\x0e" + IPTC_CITY
    app13 = b"\xff\xed" + struct.pack(">H", len(iptc) + 2) + iptc
    return whole[:2] + app13 + whole[2:] + TRAILER


IPTC_CITY = b"\x1c\x02\x5a\x00\x09Via Roma\x00"
TRAILER = b"appended: seller's home address, Via Roma 12"


@functools.cache
def large_sideways_jpeg() -> bytes:
    """A 12-megapixel-class phone photo held upright (4000x3000 stored, orientation 6): shrunk
    before it is turned, so the shrunk copy must keep the orientation to turn by."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    big = marked_landscape().resize((4000, 3000), Image.Resampling.NEAREST)
    return encode(big, "JPEG", quality=90, exif=exif)


@functools.cache
def sideways_heic() -> bytes:
    """An iPhone photo held upright: HEIC with EXIF orientation 6."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    return encode(marked_landscape(), "HEIF", quality=95, exif=exif.tobytes())


def truncated_jpeg() -> bytes:
    whole = product_jpeg()
    return whole[: len(whole) // 2]


def truncated_png() -> bytes:
    whole = encode(Image.radial_gradient("L").convert("RGB"), "PNG")
    return whole[: len(whole) // 2]


@functools.cache
def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit black PNG of width x height pixels that is only kilobytes long.

    Pillow would need 50 MB and 1.5 s to build a 20000x20000 mode "1" image and save it, so the
    rows are streamed through zlib instead; Pillow can decode the result (see the corpus tests).
    """
    row = b"\x00" + bytes((width + 7) // 8)  # filter type 0, then all-black pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND")


def _chunk(kind: bytes, payload: bytes = b"") -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _frames() -> list[Image.Image]:
    return [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]


def animated(fmt: str) -> bytes:
    first, *rest = _frames()
    return encode(first, fmt, save_all=True, append_images=rest, duration=100, loop=0)


def still(fmt: str, mode: str = "RGB") -> bytes:
    return encode(Image.new(mode, (60, 40), "red").convert(mode), fmt)


def cmyk_jpeg() -> bytes:
    """A print-shop export: CMYK JPEG of pure red (no cyan, full magenta and yellow)."""
    return encode(Image.new("CMYK", (60, 40), (0, 255, 255, 0)), "JPEG", quality=95)


def transparent_png(mode: str) -> bytes:
    """A cut-out product: a red square on a fully transparent background, in RGBA, LA or P."""
    image = Image.new("RGBA", (60, 40), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((20, 10, 40, 30), fill=(255, 0, 0, 255))
    if mode == "LA":
        image = image.convert("LA")
    elif mode == "P":
        image = image.convert("P")  # Pillow keeps the transparent entry as "transparency"
    return encode(image, "PNG")


def multi_picture_jpeg() -> bytes:
    """A JPEG with an MPF index and a second image, like an Ultra HDR photo and its gain map."""
    primary = marked_landscape()
    gain_map = Image.new("RGB", (30, 20), "white")
    return encode(primary, "MPO", save_all=True, append_images=[gain_map])


def grey16_png(level: int) -> bytes:
    """A 16-bit greyscale scan: value `level` of 65535 everywhere."""
    return encode(Image.new("I;16", (60, 40), level), "PNG")


def jpeg_with_broken_exif() -> bytes:
    """A JPEG whose APP1 Exif segment is junk: cheap cameras and editors write such files."""
    whole = encode(marked_landscape(), "JPEG")
    payload = b"Exif\x00\x00not a TIFF header"
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return whole[:2] + segment + whole[2:]


@dataclass(frozen=True)
class BadFile:
    id: str
    filename: str  # what the seller's browser sends
    make: Callable[[], bytes]
    code: str  # PhotoRejected.code from the intake

    @property
    def data(self) -> bytes:
        return self.make()


# Files every entry point must refuse with the default settings. Too large needs a lowered
# PHOTO_MAX_BYTES and has its own tests.
REJECTED = [
    BadFile("zero-bytes", "photo.jpg", lambda: b"", "empty"),
    BadFile("text-renamed-jpg", "photo.jpg", lambda: b"my bike, 20 euros\n" * 20, "not_an_image"),
    BadFile("truncated-jpeg", "photo.jpg", truncated_jpeg, "corrupt"),
    BadFile("truncated-png", "photo.png", truncated_png, "corrupt"),
    BadFile("bomb-400-megapixels", "photo.png", lambda: png_bomb(20000, 20000), "too_many_pixels"),
    BadFile("bomb-100-megapixels", "photo.png", lambda: png_bomb(10000, 10000), "too_many_pixels"),
    BadFile("bomb-64-megapixels", "photo.png", lambda: png_bomb(8000, 8000), "too_many_pixels"),
    BadFile("animated-gif", "photo.gif", lambda: animated("GIF"), "unsupported_format"),
    BadFile("still-gif", "photo.gif", lambda: still("GIF"), "unsupported_format"),
    BadFile("bmp", "photo.bmp", lambda: still("BMP"), "unsupported_format"),
    BadFile("animated-webp", "photo.webp", lambda: animated("WEBP"), "animated"),
    BadFile("animated-png", "photo.png", lambda: animated("PNG"), "animated"),
]

_NOT_A_SENTENCE = re.compile(
    r"Error\b|Exception|Traceback|\b(PIL|Pillow|errno|None|bytes? object)\b|[<>{}\[\]]|\\x|\w\(",
)


def assert_human_sentence(message: str) -> None:
    """A rejection is read by a seller: a short sentence, not an exception's repr."""
    assert isinstance(message, str)
    assert 10 <= len(message) <= 200, message
    assert message[0].isupper(), message
    assert message.endswith("."), message
    assert not _NOT_A_SENTENCE.search(message), message
