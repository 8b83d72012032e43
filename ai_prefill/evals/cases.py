"""Writes to eval cases shared by the admin, the starter set and annotation.

Every eval case is created by `eval_case_create` and changed by `eval_case_update`, whoever asks
(the starter set, promotion from the annotation queue, staff in admin), so the rules hold alike:
- expected values come in the draft's shape and are read with `ai_prefill.fields` (blank is "no
  value"; a price is a number to the cent, and 0 is a price, not "no price");
- the image and its sha256 always change together, the hash computed from the stored bytes,
  since it is part of the case's content hash and of eval cache keys;
- provenance (source, run, author) is set once, at creation; a promoted case names its run.
"""

import hashlib
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from marketplace.storage import files_delete_quietly

from ..fields import PRICE_FIELD, is_blank, price_value
from ..models import EvalCase, PrefillRun
from ..schema import DRAFT_FIELDS

# What staff may change on an existing case: the expected values (by draft field name) and these.
CASE_SETTINGS = ("key", "is_active", "must_pass", "tags", "key_attributes")


@transaction.atomic
def eval_case_create(
    *,
    key: str,
    image: bytes,
    values: Mapping[str, object],
    key_attributes: Iterable[str],
    tags: Iterable[str],
    source: str,
    source_run: PrefillRun | None = None,
    created_by=None,
    must_pass: bool = False,
    is_active: bool = True,
) -> EvalCase:
    """A new case from a JPEG that passed the photo intake and the right value of every field.

    Raises ValidationError (nothing stored) for invalid values, a key in use, or a promoted
    case without its run.
    """
    if source == EvalCase.Source.PROMOTED and source_run is None:
        raise ValidationError("A promoted eval case needs the run it was promoted from.")
    case = EvalCase(
        key=key, key_attributes=list(key_attributes), tags=list(tags), source=source,
        source_run=source_run, created_by=created_by, must_pass=must_pass, is_active=is_active,
        **_expected_columns(values),
    )  # fmt: skip
    case.image_sha256 = _sha256(image)
    case.full_clean(exclude=["image"])
    _save_with_image(case, image, user=created_by)
    return case


@transaction.atomic
def eval_case_update(
    *, case: EvalCase, actor, changes: Mapping[str, object], image: bytes | None = None
) -> EvalCase:
    """Change a case's expected values (draft field names) and settings (CASE_SETTINGS), and
    with `image` its photo; history records `actor`. Returns the saved case.

    Starts from the stored row, not from `case`: a form has written onto it, and a history
    revert hands in an old record whose hash must not be paired with the current file (the
    image is not in the history, its hash is).
    """
    unknown = set(changes) - set(DRAFT_FIELDS) - set(CASE_SETTINGS)
    if unknown:
        raise ValidationError(f"Fields that cannot be changed: {', '.join(sorted(unknown))}")
    stored = EvalCase.objects.select_for_update().get(pk=case.pk)
    values = {**stored.expected(), **{k: v for k, v in changes.items() if k in DRAFT_FIELDS}}
    for name, value in {**_expected_columns(values), **_settings(changes)}.items():
        setattr(stored, name, value)
    old_image = stored.image.name
    if image is not None:
        stored.image_sha256 = _sha256(image)
    stored.full_clean(exclude=["image"])
    if image is None:
        _save(stored, user=actor)
        return stored
    _save_with_image(stored, image, user=actor)
    if old_image:  # the history keeps no images: the replaced file is unreachable once committed
        transaction.on_commit(lambda: files_delete_quietly(stored.image.storage, old_image))
    return stored


def _expected_columns(values: Mapping[str, object]) -> dict:
    unknown = set(values) - set(DRAFT_FIELDS)
    if unknown:
        raise ValidationError(f"Not draft fields: {', '.join(sorted(unknown))}")
    columns = {}
    for name in DRAFT_FIELDS:
        value = values.get(name)
        if name == PRICE_FIELD:
            try:
                columns[f"expected_{name}"] = price_value(value)
            except ValueError:
                raise ValidationError({"expected_price_eur": f"Not a price: {value!r}"}) from None
        else:
            columns[f"expected_{name}"] = "" if is_blank(value) else str(value)
    return columns


def _settings(changes: Mapping[str, object]) -> dict:
    settings = {name: changes[name] for name in CASE_SETTINGS if name in changes}
    for name in ("tags", "key_attributes"):
        if name in settings:
            settings[name] = list(settings[name])
    return settings


def _sha256(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()


def _save_with_image(case: EvalCase, image: bytes, *, user) -> None:
    """Store the file, then the row; if the row cannot be saved, the file goes too."""
    case.image.save(f"{case.key}.jpg", ContentFile(image), save=False)
    try:
        _save(case, user=user)
    except Exception:
        files_delete_quietly(case.image.storage, case.image.name)
        raise


def _save(case: EvalCase, *, user) -> None:
    case._history_user = user  # django-simple-history records who made this change
    case.save()
