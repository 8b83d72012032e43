"""The arithmetic of drift against values worked out by hand, and photo statistics that move the
way a person looking at the photos would expect."""

import io
import math

import pytest
from PIL import Image, ImageFilter

from marketplace.sample_images import render_item
from monitoring.drift_stats import (
    PSI_EPSILON,
    STAT_EDGES,
    bin_index,
    bin_labels,
    chi_square_p,
    compare,
    drift_level,
    photo_stats,
    psi,
)


def test_psi_by_hand():
    # p = (.5, .5), q = (.25, .75): .25 ln 2 + (-.25) ln(.5/.75) = .173287 + .101366
    assert psi([50, 50], [25, 75]) == pytest.approx(0.274653, abs=1e-6)


def test_psi_of_the_same_shares_is_zero():
    assert psi([10, 20, 30], [100, 200, 300]) == pytest.approx(0.0, abs=1e-12)


def test_psi_floors_an_empty_bin_at_epsilon():
    # p = (1, 1e-4), q = (.5, .5): .5 ln 2 + (1e-4 - .5) ln(1e-4 / .5)
    #   = .346574 + (-.4999)(-8.517193) = .346574 + 4.257745
    assert PSI_EPSILON == 1e-4
    assert psi([100, 0], [50, 50]) == pytest.approx(4.604319, abs=1e-5)


def test_psi_needs_both_sides():
    assert psi([0, 0], [5, 5]) is None
    assert psi([5, 5], [0, 0]) is None


def test_chi_square_by_hand():
    # Rows (30, 70) and (50, 50); expected 40/60 in both rows:
    # chi2 = 100/40 + 100/60 + 100/40 + 100/60 = 8.3333, one degree of freedom, whose survival
    # function is erfc(sqrt(chi2 / 2)).
    chi2 = 2 * (100 / 40 + 100 / 60)
    assert chi_square_p([30, 70], [50, 50]) == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))
    assert chi_square_p([30, 70], [50, 50]) == pytest.approx(0.003892, abs=1e-6)


def test_chi_square_pools_rare_bins_and_drops_empty_ones():
    # The last two bins expect under 5 on a side: pooled into one, the same test as (30, 66, 4)
    # against (50, 46, 4). The empty bin is dropped, not an error.
    with_rare = chi_square_p([30, 66, 1, 3, 0], [50, 46, 2, 2, 0])
    assert with_rare == pytest.approx(chi_square_p([30, 66, 4], [50, 46, 4]))


def test_chi_square_with_nothing_left_to_test():
    assert chi_square_p([10, 0], [20, 0]) is None  # one bin after dropping the empty one
    assert chi_square_p([0, 0], [20, 5]) is None


@pytest.mark.parametrize(
    ("psi_value", "p_value", "n", "expected"),
    [
        (0.05, 1e-9, 5000, "stable"),  # significant, but small: a busy day's wobble
        (0.15, 1e-9, 5000, "moderate"),
        (0.30, 1e-9, 5000, "drifted"),
        (0.30, 0.01, 5000, "stable"),  # large but could be chance
        (0.30, 1e-9, 99, "insufficient_data"),
        (None, None, 0, "insufficient_data"),
    ],
)
def test_drift_level(psi_value, p_value, n, expected):
    assert drift_level(psi_value=psi_value, p_value=p_value, n=n, reference_n=5000) == expected


def test_compare_carries_its_counts():
    result = compare([50, 150], [1000, 1000])
    assert result["n"] == 200
    assert result["reference_n"] == 2000
    assert result["counts"] == [50, 150]
    # p = (.25, .75), q = (.5, .5): (-.25) ln(.5) + .25 ln(1.5), PSI is symmetric in p and q
    assert result["psi"] == pytest.approx(0.274653, abs=1e-6)
    assert result["level"] == "drifted"
    assert result["drifted"] is True


def test_bins():
    edges = STAT_EDGES["brightness"]
    assert bin_index(0, edges) == 0
    assert bin_index(31.9, edges) == 0
    assert bin_index(32, edges) == 1  # an edge opens the bin above it
    assert bin_index(255, edges) == len(edges)
    labels = bin_labels([0.3, 1, 2])
    assert labels == ["< 0.3", "0.3–1", "1–2", ">= 2"]


def _photo(**kwargs) -> Image.Image:
    image = Image.open(io.BytesIO(render_item(shape="bike", color="red", **kwargs)))
    image.load()
    return image


def test_a_dark_photo_is_less_bright_than_a_light_one():
    image = _photo()
    dark = image.point(lambda v: v // 4)
    bright_stats = photo_stats(image=image, source_size=image.size)
    dark_stats = photo_stats(image=dark, source_size=dark.size)
    assert dark_stats.brightness < bright_stats.brightness / 3
    assert bin_index(dark_stats.brightness, STAT_EDGES["brightness"]) < bin_index(
        bright_stats.brightness, STAT_EDGES["brightness"]
    )


def test_a_blurred_photo_is_less_sharp():
    image = _photo(size=(1600, 1200))
    blurred = image.filter(ImageFilter.GaussianBlur(radius=8))
    sharp = photo_stats(image=image, source_size=image.size).sharpness
    soft = photo_stats(image=blurred, source_size=image.size).sharpness
    assert soft < sharp / 4
    assert bin_index(soft, STAT_EDGES["sharpness"]) < bin_index(sharp, STAT_EDGES["sharpness"])


def test_sharpness_does_not_depend_on_the_resolution_much():
    # Measured on a copy of fixed size: the same scene at 800 and 1600 px reads alike.
    small = photo_stats(image=_photo(size=(800, 600)), source_size=(800, 600)).sharpness
    large = photo_stats(image=_photo(size=(1600, 1200)), source_size=(1600, 1200)).sharpness
    assert 0.5 < small / large < 2


def test_size_and_aspect():
    portrait = _photo(size=(600, 800))
    stats = photo_stats(image=portrait, source_size=(3000, 4000))
    assert stats.megapixels == pytest.approx(12.0)  # the upload's size, not the decoded copy's
    assert stats.aspect == pytest.approx(0.75)
