"""The photo intake against a corpus of bad and tricky files (see corpus.py)."""

import hashlib
import io

import pytest
from django.core.files.base import ContentFile
from PIL import ExifTags, Image, ImageFile

from marketplace.photos import PhotoRejected, ProcessedPhoto, jpeg_without_metadata, photo_process
from marketplace.tests import corpus


def process(data: bytes, **options) -> ProcessedPhoto:
    return photo_process(ContentFile(data, name="upload"), **options)


def rejection(data: bytes) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as info:
        process(data)
    return info.value


def shown(data: bytes) -> Image.Image:
    """Open an output JPEG the way a browser would see it."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(pixel, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def assert_clean_jpeg(data: bytes) -> Image.Image:
    """What the site serves: an RGB JPEG that says nothing about the seller's phone or place."""
    image = shown(data)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert len(image.getexif()) == 0
    for key in ("exif", "comment", "icc_profile", "xmp", "XML:com.adobe.xmp"):
        assert key not in image.info, key
    return image


# Rejections


@pytest.mark.parametrize("bad", corpus.REJECTED, ids=lambda bad: bad.id)
def test_bad_files_are_rejected_with_a_sentence_for_the_seller(bad):
    error = rejection(bad.data)
    assert error.code == bad.code
    corpus.assert_human_sentence(error.message)
    assert str(error) == error.message


def test_gif_is_refused_by_name_and_the_accepted_formats_are_listed():
    message = rejection(corpus.animated("GIF")).message
    assert message.startswith("GIF files are not accepted.")
    assert "JPEG, PNG, WEBP or HEIC" in message


@pytest.mark.parametrize(("width", "height"), [(20000, 20000), (10000, 10000), (8000, 8000)])
def test_decompression_bomb_is_rejected_from_its_header_without_decoding(
    monkeypatch, settings, width, height
):
    settings.PHOTO_MAX_PIXELS = 50_000_000  # the default; 64 MP is under Pillow's own limit
    bomb = corpus.png_bomb(width, height)
    assert len(bomb) < 100_000  # kilobytes on the wire, up to 400 megapixels once decoded
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda image: decoded.append(image.size) or real_load(image)
    )
    error = rejection(bomb)
    assert error.code == "too_many_pixels"
    assert decoded == []
    assert "50 megapixels" in error.message


def test_the_bomb_corpus_is_a_real_image_that_pillow_would_decode(monkeypatch):
    # Guards the test above: its files are refused for their size, not for being broken.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with Image.open(io.BytesIO(corpus.png_bomb(300, 200))) as image:
        image.load()
        assert (image.format, image.mode, image.size) == ("PNG", "1", (300, 200))


def test_pixel_limit_follows_the_setting_and_says_it(settings):
    settings.PHOTO_MAX_PIXELS = 500_000
    error = rejection(corpus.png_bomb(1000, 600))
    assert error.code == "too_many_pixels"
    assert "0.5 megapixels" in error.message
    assert process(corpus.png_bomb(1000, 500)).width == 1000


def test_file_over_the_byte_limit_is_rejected(settings):
    photo = corpus.product_jpeg()
    settings.PHOTO_MAX_BYTES = len(photo) - 1
    error = rejection(photo)
    assert error.code == "too_large"
    corpus.assert_human_sentence(error.message)
    settings.PHOTO_MAX_BYTES = len(photo)
    assert process(photo).source_format == "JPEG"


class StreamWithoutSize(io.BytesIO):
    """An upload that does not announce its size (chunked request, custom handler)."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.largest_read = 0

    def read(self, size=-1):
        self.largest_read = max(self.largest_read, size if size >= 0 else len(self.getvalue()))
        return super().read(size)


def test_upload_without_size_is_still_capped_and_not_read_whole(settings):
    settings.PHOTO_MAX_BYTES = 2048
    stream = StreamWithoutSize(corpus.product_jpeg())
    assert not hasattr(stream, "size")
    with pytest.raises(PhotoRejected) as info:
        photo_process(stream)
    assert info.value.code == "too_large"
    assert stream.largest_read == 2049


@pytest.mark.parametrize(
    ("limit", "said"),
    [(2048, "2 KB"), (1536 * 1024, "1.5 MB"), (15 * 1024 * 1024, "15 MB"), (700, "700 bytes")],
)
def test_byte_limit_is_stated_in_units_a_seller_understands(settings, limit, said):
    settings.PHOTO_MAX_BYTES = limit
    stream = StreamWithoutSize(b"x" * (limit + 1))
    with pytest.raises(PhotoRejected) as info:
        photo_process(stream)
    assert info.value.message == f"The photo is too large; the limit is {said}."


# Accepted files


def test_sideways_phone_photo_is_stored_upright():
    data = corpus.sideways_jpeg_with_private_metadata()
    with Image.open(io.BytesIO(data)) as original:
        assert original.size == (120, 80)
        assert original.getexif()[corpus.ORIENTATION] == 6
    photo = process(data)
    image = assert_clean_jpeg(photo.display)
    assert image.size == (photo.width, photo.height) == (80, 120)
    # Turned 90° clockwise, the marker from the top-left corner is now top-right.
    assert near(image.getpixel((75, 5)), corpus.MARKER)
    assert near(image.getpixel((5, 5)), corpus.BACKGROUND)
    assert near(image.getpixel((75, 115)), corpus.BACKGROUND)


def test_large_sideways_photo_is_shrunk_and_stored_upright(settings):
    photo = process(corpus.large_sideways_jpeg())
    display = assert_clean_jpeg(photo.display)
    thumbnail = assert_clean_jpeg(photo.thumbnail)
    assert display.size == (photo.width, photo.height) == (1200, 1600)
    assert max(thumbnail.size) == settings.PHOTO_THUMBNAIL_MAX_SIDE
    for image in (display, thumbnail):
        width, height = image.size
        assert height > width
        # The marker was top-left when stored landscape; upright it is top-right.
        assert near(image.getpixel((width - 5, 5)), corpus.MARKER)
        assert near(image.getpixel((5, 5)), corpus.BACKGROUND)


@pytest.mark.parametrize("icc", [False, True], ids=["no-profile", "with-profile"])
def test_private_metadata_never_reaches_the_site(icc):
    data = corpus.sideways_jpeg_with_private_metadata(icc=icc)
    with Image.open(io.BytesIO(data)) as original:  # the input does carry all of it
        exif = original.getexif()
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert exif[ExifTags.Base.Make] == corpus.CAMERA_MAKE
        assert original.info["comment"] == corpus.COMMENT
        assert original.info["xmp"] == corpus.XMP
        assert ("icc_profile" in original.info) == icc
    photo = process(data)
    for output in (photo.display, photo.thumbnail):
        image = assert_clean_jpeg(output)
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        for secret in (corpus.COMMENT, corpus.CAMERA_MAKE.encode(), b"Via Roma", b"Exif"):
            assert secret not in output


def test_cmyk_jpeg_is_accepted_as_rgb_with_its_colour():
    photo = process(corpus.cmyk_jpeg())
    image = assert_clean_jpeg(photo.display)
    assert near(image.getpixel((30, 20)), (255, 0, 0))


@pytest.mark.parametrize(
    ("mode", "square"), [("RGBA", (255, 0, 0)), ("P", (255, 0, 0)), ("LA", (76, 76, 76))]
)
def test_transparent_background_is_flattened_on_white(mode, square):
    photo = process(corpus.transparent_png(mode))
    image = assert_clean_jpeg(photo.display)
    assert near(image.getpixel((0, 0)), (255, 255, 255), tolerance=8)
    assert near(image.getpixel((59, 39)), (255, 255, 255), tolerance=8)
    assert near(image.getpixel((30, 20)), square)


@pytest.mark.parametrize("fmt", ["WEBP", "PNG", "JPEG"])
def test_still_formats_are_accepted(fmt):
    photo = process(corpus.still(fmt))
    image = assert_clean_jpeg(photo.display)
    assert photo.source_format == fmt
    assert image.size == (60, 40)
    assert near(image.getpixel((30, 20)), (255, 0, 0))


def test_heic_from_an_iphone_is_accepted_and_upright():
    photo = process(corpus.sideways_heic())
    assert photo.source_format == "HEIF"
    image = assert_clean_jpeg(photo.display)
    assert image.size == (80, 120)
    assert near(image.getpixel((75, 5)), corpus.MARKER)
    assert near(image.getpixel((5, 5)), corpus.BACKGROUND)


def test_phone_jpeg_with_a_gain_map_is_a_jpeg_not_an_animation():
    data = corpus.multi_picture_jpeg()
    with Image.open(io.BytesIO(data)) as original:  # what Pillow makes of a phone's MPF JPEG
        assert (original.format, original.n_frames) == ("MPO", 2)
    photo = process(data)
    assert photo.source_format == "JPEG"
    image = assert_clean_jpeg(photo.display)
    assert image.size == (120, 80)
    assert near(image.getpixel((5, 5)), corpus.MARKER)


def test_16_bit_grey_scan_keeps_its_tones():
    dark, light = (process(corpus.grey16_png(level)) for level in (10_000, 50_000))
    dark_pixel = assert_clean_jpeg(dark.display).getpixel((30, 20))
    light_pixel = assert_clean_jpeg(light.display).getpixel((30, 20))
    assert near(dark_pixel, (39, 39, 39), tolerance=3)
    assert near(light_pixel, (195, 195, 195), tolerance=3)


def test_broken_exif_does_not_cost_the_seller_their_photo():
    photo = process(corpus.jpeg_with_broken_exif())
    image = assert_clean_jpeg(photo.display)
    assert image.size == (120, 80)


@pytest.mark.parametrize(("size", "upright"), [((2400, 1600), True), ((1200, 3000), False)])
def test_large_photo_is_downscaled_to_the_display_and_thumbnail_sides(settings, size, upright):
    if not upright:  # portrait, with smaller sides from settings
        settings.PHOTO_DISPLAY_MAX_SIDE, settings.PHOTO_THUMBNAIL_MAX_SIDE = 900, 150
    data = corpus.encode(Image.linear_gradient("L").resize(size).convert("RGB"), "JPEG")
    photo = process(data)
    display, thumbnail = assert_clean_jpeg(photo.display), assert_clean_jpeg(photo.thumbnail)
    assert max(display.size) == settings.PHOTO_DISPLAY_MAX_SIDE
    assert max(thumbnail.size) == settings.PHOTO_THUMBNAIL_MAX_SIDE
    assert (photo.width, photo.height) == display.size
    for image in (display, thumbnail):  # the proportions survive
        assert abs(image.width / image.height - size[0] / size[1]) < 0.01


def test_small_photo_is_not_blown_up():
    photo = process(corpus.still("JPEG"))
    assert (photo.width, photo.height) == (60, 40)
    assert shown(photo.thumbnail).size == (60, 40)


def test_sha256_identifies_the_display_image():
    # With metadata to cut, the upload and the display image differ; the hash is the display's.
    # (A JPEG without metadata that fits is stored byte for byte, so there they are the same.)
    upload = corpus.upright_jpeg_with_private_metadata()
    photo = process(upload)
    assert photo.sha256 == hashlib.sha256(photo.display).hexdigest()
    assert photo.sha256 != hashlib.sha256(upload).hexdigest()
    assert process(upload).sha256 == photo.sha256


# JPEGs kept as they are: upright, sRGB, small enough


def pixels(data: bytes) -> bytes:
    return shown(data).tobytes()


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline-restarts", "progressive"])
def test_fitting_jpeg_keeps_its_compressed_data_and_loses_its_metadata(progressive):
    upload = corpus.upright_jpeg_with_private_metadata(progressive=progressive)
    photo = process(upload)
    image = assert_clean_jpeg(photo.display)
    assert "photoshop" not in image.info
    for secret in (corpus.COMMENT, corpus.CAMERA_MAKE.encode(), b"Via Roma", b"Exif", b"8BIM"):
        assert secret not in photo.display
    assert not photo.display.endswith(corpus.TRAILER)
    assert image.size == (photo.width, photo.height) == (120, 80)
    # Lossless: exactly the upload's pixels, not a second JPEG generation of them.
    assert pixels(photo.display) == pixels(upload)
    assert (b"\xff\xd0" in photo.display) == (not progressive)  # restart markers survive
    thumbnail = assert_clean_jpeg(photo.thumbnail)
    assert near(thumbnail.getpixel((5, 5)), corpus.MARKER)


def test_fitting_phone_jpeg_loses_its_gain_map():
    photo = process(corpus.multi_picture_jpeg())
    with Image.open(io.BytesIO(photo.display)) as image:
        assert (image.format, getattr(image, "n_frames", 1)) == ("JPEG", 1)
    assert photo.display.count(b"\xff\xd9") == 1
    assert pixels(photo.display) == pixels(corpus.multi_picture_jpeg())


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(corpus.sideways_jpeg_with_private_metadata, id="turned-by-exif"),
        pytest.param(lambda: corpus.sideways_jpeg_with_private_metadata(icc=True), id="icc"),
        pytest.param(corpus.cmyk_jpeg, id="cmyk"),
        pytest.param(
            lambda: corpus.encode(corpus.marked_landscape().convert("L"), "JPEG"), id="grey"
        ),
    ],
)
def test_jpeg_that_must_change_is_decoded_and_encoded_again(upload):
    data = upload()
    photo = process(data)
    assert_clean_jpeg(photo.display)
    # Encoded again by the intake (quality 85), not the upload's data (quality 75 or 95).
    assert quantisation_tables(photo.display) != quantisation_tables(data)


def quantisation_tables(data: bytes) -> bytes:
    start = data.index(b"\xff\xdb")  # the first DQT segment, with its length
    return data[start : start + 2 + int.from_bytes(data[start + 2 : start + 4], "big")]


def test_jpeg_larger_than_the_display_side_is_encoded_again(settings):
    settings.PHOTO_DISPLAY_MAX_SIDE = 100
    photo = process(corpus.upright_jpeg_with_private_metadata())
    assert (photo.width, photo.height) == (100, 67)


def test_upright_pixels_are_kept_for_a_caller_that_needs_its_own_size(settings):
    settings.PHOTO_THUMBNAIL_MAX_SIDE = 100
    big = corpus.encode(corpus.marked_landscape().resize((1600, 1200)), "JPEG")
    # A reduced decode is enough for the thumbnail and the caller's 512 px...
    assert process(big).upright.size == (200, 150)
    assert process(big, keep_side=512).upright.size == (800, 600)
    # ...and a photo that is re-encoded hands over its display image.
    assert process(corpus.large_sideways_jpeg()).upright.size == (1200, 1600)


def plain_jpeg() -> bytes:
    return corpus.encode(corpus.marked_landscape(), "JPEG")


def replace_marker(data: bytes, old: int, new: int) -> bytes:
    index = data.index(bytes((0xFF, old)))
    return data[:index] + bytes((0xFF, new)) + data[index + 2 :]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: replace_marker(d, 0xC0, 0xC9), id="arithmetic-coding"),
        pytest.param(lambda d: replace_marker(d, 0xC0, 0xC3), id="lossless"),
        pytest.param(
            lambda d: d[:2] + b"\xff\xee\x00\x0eAdobe\x00d\x00\x00\x00\x00\x00" + d[2:], id="adobe"
        ),
        pytest.param(lambda d: d[: len(d) - 10], id="ends-inside-the-scan"),
        pytest.param(lambda d: d[:-2], id="no-end-marker"),
        pytest.param(lambda d: b"\x89PNG" + d[4:], id="not-a-jpeg"),
    ],
)
def test_jpeg_without_metadata_refuses_what_it_cannot_vouch_for(change):
    assert jpeg_without_metadata(plain_jpeg()) is not None
    assert jpeg_without_metadata(change(plain_jpeg())) is None


def test_jpeg_without_metadata_refuses_12_bit_and_rgb_coded_frames():
    data = plain_jpeg()
    frame = data.index(b"\xff\xc0") + 4  # after marker and length: precision, size, components
    twelve_bit = data[:frame] + b"\x0c" + data[frame + 1 :]
    assert jpeg_without_metadata(twelve_bit) is None
    ids = frame + 6
    rgb_ids = data[:ids] + b"R" + data[ids + 1 : ids + 3] + b"G" + data[ids + 4 : ids + 6] + b"B"
    rgb_ids += data[ids + 7 :]
    assert jpeg_without_metadata(rgb_ids) is None
