"""Prompt files -> immutable PromptVersion rows, and the production label.

A prompt file (prompts/<name>.toml) holds `description`, `instructions`, `user_text` and a
`[params]` table. Its identity is the hash of everything that reaches the model, including the
draft schema, so "which prompt produced this?" always has one exact answer.
"""

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from marketplace.memo import ProcessMemo

from .models import PromptLabel, PromptLabelEvent, PromptVersion
from .schema import draft_schema_hash

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


@dataclass(frozen=True)
class PromptFile:
    name: str
    description: str
    instructions: str
    user_text: str
    params: dict
    path: str

    def content_hash(self, schema_hash: str) -> str:
        payload = {
            "instructions": self.instructions,
            "user_text": self.user_text,
            "params": self.params,
            "schema": schema_hash,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def prompt_files_read(directory: Path = PROMPTS_DIR) -> list[PromptFile]:
    return [_read(path) for path in sorted(directory.glob("*.toml"))]


def _read(path: Path) -> PromptFile:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return PromptFile(
        name=path.stem,
        description=data.get("description", "").strip(),
        instructions=data["instructions"].strip(),
        user_text=data["user_text"].strip(),
        params=dict(data.get("params", {})),
        path=_display_path(path),
    )


def _display_path(path: Path) -> str:
    repo = PROMPTS_DIR.parent.parent
    return str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)


@transaction.atomic
def prompt_versions_sync(directory: Path = PROMPTS_DIR) -> list[PromptVersion]:
    """Register every prompt file's current content; label production if nothing is yet."""
    schema_hash = draft_schema_hash()
    versions = []
    for prompt in prompt_files_read(directory):
        version, _ = PromptVersion.objects.get_or_create(
            content_hash=prompt.content_hash(schema_hash),
            defaults={
                "name": prompt.name,
                "instructions": prompt.instructions,
                "user_text": prompt.user_text,
                "params": prompt.params,
                "schema_hash": schema_hash,
                "description": prompt.description,
                "source_path": prompt.path,
            },
        )
        versions.append(version)
    _label_production_if_unset(versions)
    return versions


def _label_production_if_unset(versions: list[PromptVersion]) -> None:
    if PromptLabel.objects.filter(name=PromptLabel.PRODUCTION).exists():
        return
    default = next((v for v in versions if v.name == settings.AI_PROMPT_NAME), None)
    if default is not None:
        prompt_label_move(label=PromptLabel.PRODUCTION, version=default, note="first registration")


def prompt_version_production() -> PromptVersion:
    """The version the product uses by default; registers the files on a fresh database."""
    label = (
        PromptLabel.objects.select_related("version").filter(name=PromptLabel.PRODUCTION).first()
    )
    if label is None:
        prompt_versions_sync()
        label = PromptLabel.objects.select_related("version").get(name=PromptLabel.PRODUCTION)
    return label.version


# How long a new run may go on with the version production had; a label move in the same
# process is seen at once (it forgets the memo), in the other web processes within this time.
PRODUCTION_REFRESH_SECONDS = 5
_production = ProcessMemo(prompt_version_production, refresh_seconds=PRODUCTION_REFRESH_SECONDS)


def prompt_version_for_new_run() -> PromptVersion:
    """The production version as an upload takes it: the label is read at most every
    PRODUCTION_REFRESH_SECONDS per process, not on every upload (2-3 ms of CPU each, the same
    row every time). Every run still records the exact version it used."""
    return _production.get()


def prompt_version_for_new_run_forget() -> None:
    _production.forget()


@transaction.atomic
def prompt_label_move(
    *, label: str, version: PromptVersion, user=None, note: str = ""
) -> PromptLabelEvent:
    """Point a label at a version and record who moved it from where (rollback = move back).
    Returns the recorded move."""
    current = PromptLabel.objects.select_for_update().filter(name=label).first()
    previous = current.version if current else None
    PromptLabel.objects.update_or_create(
        name=label, defaults={"version": version, "moved_by": user}
    )
    event = PromptLabelEvent.objects.create(
        label=label, from_version=previous, to_version=version, moved_by=user, note=note
    )
    # Now for this transaction's own next upload, and again once the move is visible to all.
    _production.forget()
    transaction.on_commit(_production.forget)
    return event


def run_params_for(version: PromptVersion) -> dict:
    """What shapes an answer besides prompt text and image, as a run of this version records it.

    The worker adds the endpoint it actually used (API style, base URL, timeout).
    """
    return {
        **version.params,
        "image_max_side": settings.AI_IMAGE_MAX_SIDE,
        "image_jpeg_quality": settings.AI_IMAGE_JPEG_QUALITY,
    }


def model_for_provider(provider: str, model: str) -> str:
    """The baseline has no model; recording settings.AI_MODEL for it would mislead."""
    return "baseline" if provider == "baseline" else model
