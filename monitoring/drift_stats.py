"""The arithmetic of drift, on plain numbers (no database): the statistics of one photo, the fixed
bins they are counted in, and the comparison of a day's counts with a reference's (PSI and
chi-square). docs/monitoring.md (## Drift) explains the choices; the tests check them against
hand-computed values.
"""

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.stats import chi2_contingency

# --- Input statistics of one photo --------------------------------------------------------------

# Brightness and sharpness are measured on a grey copy this long on its long side: a fixed size
# makes photos of every resolution comparable (the Laplacian of a 12 MP photo and of its 1 MP copy
# differ), and small keeps the cost at about a millisecond at upload.
STATS_SIDE = 256


@dataclass(frozen=True)
class PhotoStats:
    megapixels: float  # of the upload as the seller sent it
    aspect: float  # width / height of the upright photo (> 1: landscape)
    brightness: float  # mean luma, 0 (black) .. 255 (white)
    sharpness: float  # variance of the 4-neighbour Laplacian of the grey copy


def photo_stats(*, image: Image.Image, source_size: tuple[int, int]) -> PhotoStats:
    """Statistics of an upright RGB (or grey) image; `source_size` is the upload's own pixel
    size, which the decoded image may be a reduced copy of."""
    grey = _small_grey(image)
    pixels = np.asarray(grey, dtype=np.float32)
    return PhotoStats(
        megapixels=source_size[0] * source_size[1] / 1_000_000,
        aspect=image.width / image.height,
        brightness=float(pixels.mean()),
        sharpness=_laplacian_variance(pixels),
    )


def _small_grey(image: Image.Image) -> Image.Image:
    """A grey copy STATS_SIDE long. Shrink first, convert second, so the colour conversion runs on
    65k pixels, not millions; an integer box reduction first (Image.reduce, about 1.5 ms for
    1600 x 1200), then an exact box resize of what is left: both are plain averaging, which is
    the cheapest resampling that does not alias, and half the cost of one box resize."""
    factor = max(1, max(image.size) // STATS_SIDE)
    if factor > 1:
        image = image.reduce(factor)
    scale = STATS_SIDE / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BOX)
    return image if image.mode == "L" else image.convert("L")


def _laplacian_variance(pixels: np.ndarray) -> float:
    """Variance of the discrete Laplacian (a focus measure: edges make it large, blur small)."""
    if pixels.shape[0] < 3 or pixels.shape[1] < 3:
        return 0.0
    centre = pixels[1:-1, 1:-1]
    laplacian = (
        pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:] - 4 * centre
    )
    return float(laplacian.var())


# --- Fixed bins ----------------------------------------------------------------------------------
# Fixed, not quantiles of the reference: the same edges every day, so reports compare with each
# other and a bin's label means the same thing on every chart. Each list holds the inner edges;
# the first bin starts at -inf and the last ends at +inf.
STAT_EDGES = {
    # 0.3 MP is a screenshot-sized photo; phones take 12 MP (and 48 MP binned to 12).
    "megapixels": [0.3, 1, 2, 4, 8, 12.5, 20],
    # Portrait 9:16 (0.56), 3:4 (0.75), square, 4:3 (1.33), 16:9 (1.78).
    "aspect": [0.6, 0.7, 0.9, 1.1, 1.4, 1.7],
    # Eight equal steps of luma.
    "brightness": [32, 64, 96, 128, 160, 192, 224],
    # Roughly logarithmic: blurred photos sit under 20, ordinary ones in the hundreds.
    "sharpness": [5, 20, 50, 100, 200, 500, 1000, 2000],
}
STATISTICS = tuple(STAT_EDGES)


def bin_labels(edges: list[float]) -> list[str]:
    """The labels of the bins ("< 0.3", "0.3–1", ..., ">= 20"), as a chart's x axis shows them."""
    inner = [f"{_num(low)}–{_num(high)}" for low, high in zip(edges, edges[1:], strict=False)]
    return [f"< {_num(edges[0])}", *inner, f">= {_num(edges[-1])}"]


def bin_index(value: float, edges: list[float]) -> int:
    """Which bin a value falls in: bin i holds edges[i-1] <= value < edges[i]."""
    return int(np.searchsorted(edges, value, side="right"))


def _num(value: float) -> str:
    return f"{value:g}"


# --- Comparing a day with its reference ----------------------------------------------------------

# A bin empty on one side would make PSI infinite (ln 0). Such a bin's share is raised to this
# floor instead: a bin that goes from 0 to 1% then adds (0.01 - 0.0001) * ln(100) = 0.046, a
# visible but not by itself alarming part of the index.
PSI_EPSILON = 1e-4
PSI_MODERATE = 0.1  # below: stable
PSI_DRIFTED = 0.25  # above: drifted (0.1 to 0.25: moderate)
CHI2_ALPHA = 0.001  # the same bar as the experiments' sample-ratio check (STYLE.md)
# Neither test means much on a handful of runs: under this many on either side a dimension is
# reported as "insufficient_data" and never as drifted.
MIN_SAMPLE = 100
# Cochran's rule for the chi-square approximation: bins whose expected count on either side is
# under this are pooled into one before the test.
MIN_EXPECTED = 5


def psi(current: list[int], reference: list[int]) -> float | None:
    """Population Stability Index: sum over bins of (p - q) * ln(p / q), p the day's shares,
    q the reference's, each floored at PSI_EPSILON. None when either side has no counts."""
    if sum(current) == 0 or sum(reference) == 0:
        return None
    p = _shares(current)
    q = _shares(reference)
    return float(np.sum((p - q) * np.log(p / q)))


def _shares(counts: list[int]) -> np.ndarray:
    shares = np.asarray(counts, dtype=float) / sum(counts)
    return np.maximum(shares, PSI_EPSILON)


def chi_square_p(current: list[int], reference: list[int]) -> float | None:
    """p-value of the chi-square test that the day and the reference come from one distribution
    (a 2 x k contingency table, bins with small expected counts pooled). None when either side
    is empty or fewer than two bins remain."""
    table = _pooled_table(current, reference)
    if table is None:
        return None
    result = chi2_contingency(table, correction=False)
    return float(result.pvalue)


def _pooled_table(current: list[int], reference: list[int]) -> np.ndarray | None:
    table = np.array([current, reference], dtype=float)
    row_totals = table.sum(axis=1)
    if (row_totals == 0).any():
        return None
    table = table[:, table.sum(axis=0) > 0]  # a bin empty on both sides says nothing
    expected = np.outer(row_totals, table.sum(axis=0)) / row_totals.sum()
    rare = (expected < MIN_EXPECTED).any(axis=0)
    if rare.any():
        pooled = table[:, rare].sum(axis=1, keepdims=True)
        table = np.hstack([table[:, ~rare], pooled])
    if table.shape[1] < 2:
        return None
    return table


def compare(current: list[int], reference: list[int]) -> dict:
    """One dimension of a report: both indexes, the level and the counts they came from."""
    value = psi(current, reference)
    p_value = chi_square_p(current, reference)
    level = drift_level(
        psi_value=value, p_value=p_value, n=sum(current), reference_n=sum(reference)
    )
    return {
        "psi": _rounded(value),
        "chi2_p": p_value,
        "level": level,
        "drifted": level == "drifted",
        "n": sum(current),
        "reference_n": sum(reference),
        "counts": list(current),
        "reference_counts": list(reference),
    }


def drift_level(*, psi_value: float | None, p_value: float | None, n: int, reference_n: int):
    """The level of a dimension: "stable", "moderate", "drifted" or "insufficient_data".

    A shift has to be both large (PSI) and not chance (chi-square) to count: on a busy day the
    chi-square test alone calls a 1-point wobble significant, and on a quiet one PSI alone
    swings widely."""
    if min(n, reference_n) < MIN_SAMPLE or psi_value is None:
        return "insufficient_data"
    significant = p_value is not None and p_value < CHI2_ALPHA
    if psi_value > PSI_DRIFTED and significant:
        return "drifted"
    if psi_value >= PSI_MODERATE and significant:
        return "moderate"
    return "stable"


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 6)
