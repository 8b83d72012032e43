"""Verdicts follow the values: recompute the stored ones.

Until now the review form let a verdict be chosen (and defaulted it to "AI right"), so stored
verdicts could contradict the values they were stored with, e.g. `title: right` for a title typed
where the draft had none. They feed agreement (kappa), adjudication and the eval set, so every
non-skipped annotation gets the verdicts its values and its run's draft give, by the rule
`annotation.services.annotation_verdicts` applies to new ones (`same_value`, the one definition;
None for every field of a run with no draft). Going back keeps the recomputed verdicts: the old
ones were wrong where they differ.
"""

from django.db import migrations, models

# The rule itself, not a copy: annotation_verdicts is a pure function of two dicts (it touches
# no model), so it is safe to call with this migration's historical rows.
from annotation.services import annotation_verdicts

BATCH = 500


def recompute_verdicts(apps, schema_editor) -> int:
    """Returns how many annotations changed."""
    Annotation = apps.get_model("annotation", "Annotation")
    rows = (
        Annotation.objects.filter(skipped=False)
        .select_related("task__run")
        .only("pk", "values", "verdicts", "task__run__draft")
        .order_by("pk")
    )
    changed = []
    for annotation in rows.iterator(chunk_size=BATCH):
        draft, values = annotation.task.run.draft, annotation.values or {}
        verdicts = annotation_verdicts(draft=draft, values=values)
        if verdicts != annotation.verdicts:
            annotation.verdicts = verdicts
            changed.append(annotation)
    Annotation.objects.bulk_update(changed, ["verdicts"], batch_size=BATCH)
    return len(changed)


def recompute(apps, schema_editor) -> None:
    recompute_verdicts(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0003_task_promote_requested"),
    ]

    operations = [
        migrations.AlterField(
            model_name="annotation",
            name="verdicts",
            field=models.JSONField(
                default=dict,
                help_text="Per field: was the AI right? Derived from the run's draft and the "
                "values: true exactly when they are the same value; null for a run with no draft.",
            ),
        ),
        migrations.RunPython(recompute, migrations.RunPython.noop),
    ]
