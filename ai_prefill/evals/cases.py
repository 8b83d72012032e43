"""Writes to eval cases shared by the admin, the starter set and annotation."""

from django.core.files.base import ContentFile

from marketplace.photos import ProcessedPhoto

from ..models import EvalCase


def eval_case_photo_attach(*, case: EvalCase, photo: ProcessedPhoto) -> None:
    """Put a processed photo on the case (unsaved): the file and its hash always change together,
    since the hash is part of the case's content hash and of eval cache keys."""
    case.image_sha256 = photo.sha256
    case.image.save(f"{case.key}.jpg", ContentFile(photo.display), save=False)
