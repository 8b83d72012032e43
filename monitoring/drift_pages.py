"""What the drift pages show of a report: table rows and Chart.js data (no queries here)."""

from .drift import ordered_dimensions
from .drift_models import DriftReport
from .drift_stats import CHI2_ALPHA, MIN_SAMPLE, PSI_DRIFTED, PSI_MODERATE

TITLES = {
    "category": "Suggested category",
    "condition": "Suggested condition",
    "megapixels": "Photo size (megapixels, as uploaded)",
    "aspect": "Photo aspect (width / height)",
    "brightness": "Photo brightness (mean luma, 0-255)",
    "sharpness": "Photo sharpness (Laplacian variance)",
}
TODAY_COLOR = "#d9534f"
REFERENCE_COLOR = "#5b8def"
THRESHOLDS = {
    "psi_moderate": PSI_MODERATE,
    "psi_drifted": PSI_DRIFTED,
    "chi2_alpha": CHI2_ALPHA,
    "min_sample": MIN_SAMPLE,
}


def drift_dimension_rows(dimensions: dict) -> list[dict]:
    """One row per dimension, in the report's order, with its title and level."""
    return [
        {
            "name": name,
            "title": TITLES.get(name, name),
            "kind": dim["kind"],
            "psi": dim["psi"],
            "chi2_p": dim["chi2_p"],
            "level": dim["level"],
            "level_label": dim["level"].replace("_", " "),
            "n": dim["n"],
            "reference_n": dim["reference_n"],
        }
        for name, dim in ordered_dimensions(dimensions).items()
    ]


def drift_report_charts(report: DriftReport) -> list[dict]:
    """Per dimension: the day's and the reference's share of each bin (%), and the counts."""
    reference_label = f"previous {report.reference_days} days"
    return [
        {
            "id": f"drift-chart-{name}",
            "title": TITLES.get(name, name),
            "labels": dim["labels"],
            "datasets": [
                _series(f"{report.day}", TODAY_COLOR, dim["counts"]),
                _series(reference_label, REFERENCE_COLOR, dim["reference_counts"]),
            ],
        }
        for name, dim in ordered_dimensions(report.dimensions).items()
    ]


def _series(label: str, color: str, counts: list[int]) -> dict:
    total = sum(counts)
    return {
        "label": label,
        "backgroundColor": color,
        "data": [round(100 * c / total, 2) if total else 0 for c in counts],
        "counts": counts,
    }
