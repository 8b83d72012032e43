"""Statistics shared by the apps above the kernel (one definition per idea).

- `holm`: many comparisons at once (eval fields, experiment arms); Holm's step-down adjustment
  controls the family-wise error rate, is uniformly more powerful than Bonferroni and is valid
  under any dependence between the tests (Holm 1979).
"""

from __future__ import annotations

from statsmodels.stats.multitest import multipletests


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values, same keys and order (statsmodels multipletests, method="holm")."""
    if not p_values:
        return {}
    names = list(p_values)
    _, adjusted, _, _ = multipletests([p_values[name] for name in names], method="holm")
    return {name: float(p) for name, p in zip(names, adjusted, strict=True)}
