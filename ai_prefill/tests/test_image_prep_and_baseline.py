import io

from PIL import Image

from ai_prefill.image_prep import image_prepare_for_model
from ai_prefill.providers.baseline import dominant_item_color
from marketplace.sample_images import render_item


def _jpeg_with_exif(size, orientation=6) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def test_model_image_is_small_upright_and_without_metadata():
    prepared = image_prepare_for_model(_jpeg_with_exif((4000, 3000)), max_side=512, quality=80)
    image = Image.open(io.BytesIO(prepared.jpeg))
    assert image.size == (384, 512), "orientation 6 turns landscape into portrait"
    assert image.mode == "RGB" and not image.getexif()
    assert (prepared.width, prepared.height) == image.size
    assert prepared.data_url.startswith("data:image/jpeg;base64,")


def test_model_image_converts_alpha_images():
    rgba = Image.new("RGBA", (600, 400), (0, 0, 255, 128))
    out = io.BytesIO()
    rgba.save(out, "PNG")
    prepared = image_prepare_for_model(out.getvalue(), max_side=512, quality=80)
    assert Image.open(io.BytesIO(prepared.jpeg)).size == (512, 341)


def test_baseline_reads_the_item_colour_not_the_background():
    for color in ("red", "blue", "green", "yellow"):
        jpeg = render_item(shape="ball", color=color)
        assert dominant_item_color(jpeg) == color


def test_baseline_says_nothing_about_an_empty_picture():
    out = io.BytesIO()
    Image.new("RGB", (300, 300), (230, 230, 230)).save(out, "JPEG")
    assert dominant_item_color(out.getvalue()) is None
