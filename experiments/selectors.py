"""Reads of experiments: the live one, assignment counts, the sample-ratio check, ship blockers."""

from django.db.models import Count

from .models import Arm, Assignment, Experiment, Surface


def experiment_live(*, surface: str = Surface.SELL) -> Experiment | None:
    return Experiment.objects.filter(surface=surface, status__in=Experiment.LIVE).first()


def assignment_counts(*, experiment: Experiment) -> dict[int, int]:
    """Sellers per arm id (every arm present, zero if nobody yet)."""
    counts = dict(
        Assignment.objects.filter(experiment=experiment)
        .values_list("arm_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {arm.pk: counts.get(arm.pk, 0) for arm in experiment.arms.all()}


def sample_ratio(*, experiment: Experiment):
    """Chi-square of the sellers per arm against the weights (stats.sample_ratio_check)."""
    from .stats import sample_ratio_check

    arms: list[Arm] = list(experiment.arms.all())
    counts = assignment_counts(experiment=experiment)
    return sample_ratio_check([counts[arm.pk] for arm in arms], [arm.weight for arm in arms])


def ship_blockers(*, experiment: Experiment) -> list[str]:
    """Why an arm of this experiment cannot be shipped now; empty if it can."""
    if experiment.status == Experiment.Status.ENDED:
        return ["The experiment has ended; ship from a live experiment, or set production."]
    if experiment.status == Experiment.Status.DRAFT:
        return ["The experiment has not started."]
    srm = sample_ratio(experiment=experiment)
    if srm.mismatch and experiment.srm_acknowledged_at is None:
        return [
            f"Sample-ratio mismatch (p = {srm.p_value:.2g}): the split of sellers does not match "
            "the weights, so the comparison is suspect. Find the cause and acknowledge it first."
        ]
    return []
