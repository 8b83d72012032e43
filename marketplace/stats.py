"""Statistics shared by the apps above the kernel (one definition per idea).

- `holm`: many comparisons at once (eval fields, experiment arms); Holm's step-down adjustment
  controls the family-wise error rate, is uniformly more powerful than Bonferroni and is valid
  under any dependence between the tests (Holm 1979).
"""

from __future__ import annotations

import numpy as np


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values, same keys and order: sorted ascending, the i-th (0-based) of m is
    multiplied by m - i, made non-decreasing and capped at 1 (Holm 1979).

    The same numbers as statsmodels' multipletests(method="holm") (the tests compare them), done
    here because that branch of multipletests calls gc.collect() on every call: 100-200 ms in a
    web process holding Django, scipy and statsmodels, which the experiment results page (under
    500 ms) cannot afford."""
    if not p_values:
        return {}
    names = list(p_values)
    p = np.asarray([p_values[name] for name in names], dtype=float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return {name: float(value) for name, value in zip(names, adjusted, strict=True)}
