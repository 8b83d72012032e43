import io
import random

import pytest
from PIL import Image, ImageDraw, ImageFilter

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


def _photo_jpeg(image):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _red_sneaker_on_wooden_floor():
    """A small red sneaker on a floor of brown planks, in front of a grey wall."""
    rng = random.Random(7)
    w, h = 800, 600
    image = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(image)
    d.rectangle((0, 0, w, 250), fill=(150, 152, 158))  # a grey wall behind the floor
    for top in range(250, h, 50):  # planks of different browns, with darker grain
        shade = rng.randint(-30, 30)
        base = (150 + shade, 105 + shade, 62 + shade // 2)
        d.rectangle((0, top, w, top + 48), fill=base)
        for _ in range(14):
            y = top + rng.randint(2, 46)
            d.line([(0, y), (w, y + rng.randint(-4, 4))], fill=tuple(c - 28 for c in base), width=2)
        d.line([(0, top + 49), (w, top + 49)], fill=(70, 45, 25), width=2)
    d.ellipse((270, 420, 560, 470), fill=(95, 65, 38))  # shadow on the floor
    d.polygon(
        [(280, 440), (300, 360), (400, 320), (450, 360), (540, 380), (550, 440)], fill=(200, 32, 38)
    )  # the red upper
    d.rectangle((275, 435, 555, 455), fill=(240, 238, 232))  # white sole
    for x in range(350, 430, 20):  # laces
        d.line([(x, 335), (x + 12, 360)], fill=(245, 245, 245), width=4)
    return _photo_jpeg(image.filter(ImageFilter.GaussianBlur(1)))


def _blue_bike():
    """A thin blue frame between black tyres, a floor and its shadow filling much of the photo."""
    w, h = 800, 600
    image = Image.new("RGB", (w, h), (226, 226, 222))
    d = ImageDraw.Draw(image)
    d.rectangle((0, 430, w, h), fill=(180, 178, 172))  # floor
    d.ellipse((90, 470, 720, 530), fill=(150, 148, 142))  # shadow
    for x in (110, 470):  # black tyres, grey spokes
        d.ellipse((x, 230, x + 230, 460), outline=(25, 25, 25), width=16)
        d.line([(x + 20, 345), (x + 210, 345)], fill=(150, 150, 150), width=2)
    blue = (35, 80, 190)
    d.line([(225, 345), (360, 220), (585, 345), (420, 345), (225, 345)], fill=blue, width=14)
    d.line([(360, 220), (560, 215), (585, 345)], fill=blue, width=14)
    d.line([(340, 200), (390, 200)], fill=(20, 20, 20), width=12)  # saddle
    return _photo_jpeg(image)


@pytest.mark.parametrize(
    ("picture", "color"),
    [
        (_red_sneaker_on_wooden_floor, "red"),
        (_blue_bike, "blue"),
        (lambda: render_item(shape="phone", color="blue"), "blue"),  # not its black screen
        (lambda: render_item(shape="laptop", color="silver"), "silver"),
    ],
)
def test_baseline_reads_the_item_not_the_floor_wall_shadow_or_screen(picture, color):
    assert dominant_item_color(picture()) == color
