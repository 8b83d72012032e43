import pytest

from ai_prefill.models import PromptLabel, PromptLabelEvent, PromptVersion
from ai_prefill.prompt_registry import (
    PRODUCTION_REFRESH_SECONDS,
    PROMPTS_DIR,
    prompt_files_read,
    prompt_label_move,
    prompt_version_for_new_run,
    prompt_version_production,
    prompt_versions_sync,
)
from ai_prefill.tests.factories import start_run
from marketplace import memo

pytestmark = pytest.mark.django_db

PROMPT = """
description = "{description}"
instructions = "{instructions}"
user_text = "Describe it."
[params]
temperature = {temperature}
"""


def _write(
    directory, name="listing_draft", instructions="Be honest.", temperature=0.2, description="v"
):
    text = PROMPT.format(
        instructions=instructions, temperature=temperature, description=description
    )
    (directory / f"{name}.toml").write_text(text)


def test_repository_prompts_register_and_one_is_production():
    versions = prompt_versions_sync()
    assert {v.name for v in versions} == {p.name for p in prompt_files_read()}
    assert prompt_version_production().name == "listing_draft"
    assert all(len(v.content_hash) == 64 for v in versions)


def test_sync_is_idempotent_and_text_or_params_changes_make_new_versions(tmp_path):
    _write(tmp_path)
    first = prompt_versions_sync(tmp_path)[0]
    assert prompt_versions_sync(tmp_path)[0] == first
    _write(tmp_path, description="only the description changed")
    assert prompt_versions_sync(tmp_path)[0] == first, "the description is not what the model sees"
    _write(tmp_path, temperature=0.7)
    by_params = prompt_versions_sync(tmp_path)[0]
    _write(tmp_path, instructions="Be brief.")
    by_text = prompt_versions_sync(tmp_path)[0]
    assert len({first.pk, by_params.pk, by_text.pk}) == 3
    assert PromptVersion.objects.filter(pk__in=[first.pk, by_params.pk, by_text.pk]).count() == 3


def test_production_label_stays_until_moved(tmp_path, prompt_owner):
    PromptLabel.objects.all().delete()  # migrate registered the repository's prompts already
    PromptLabelEvent.objects.all().delete()
    _write(tmp_path)
    first = prompt_versions_sync(tmp_path)[0]
    assert prompt_version_production() == first
    _write(tmp_path, instructions="A new idea.")
    second = prompt_versions_sync(tmp_path)[0]
    assert prompt_version_production() == first, "a new file never ships itself"
    prompt_label_move(label=PromptLabel.PRODUCTION, version=second, user=prompt_owner)
    assert prompt_version_production() == second
    prompt_label_move(label=PromptLabel.PRODUCTION, version=first, user=prompt_owner)  # rollback
    assert prompt_version_production() == first
    moves = PromptLabelEvent.objects.filter(label="production").order_by("id")
    history = [(e.from_version, e.to_version, e.moved_by) for e in moves]
    assert history == [
        (None, first, None),
        (first, second, prompt_owner),
        (second, first, prompt_owner),
    ]


def test_uploads_read_the_production_label_once_per_refresh_and_see_a_move_at_once(
    tmp_path, prompt_owner, seller, monkeypatch, django_assert_num_queries
):
    clock = [1000.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: clock[0])
    first = prompt_version_production()
    with django_assert_num_queries(1):
        assert [prompt_version_for_new_run() for _ in range(3)] == [first] * 3
    _write(tmp_path, instructions="A new idea.")
    second = prompt_versions_sync(tmp_path)[0]
    prompt_label_move(label=PromptLabel.PRODUCTION, version=second, user=prompt_owner)
    assert start_run(seller).prompt_version == second  # this process moved it: no wait

    PromptLabel.objects.filter(name=PromptLabel.PRODUCTION).update(version=first)  # elsewhere
    assert prompt_version_for_new_run() == second
    clock[0] += PRODUCTION_REFRESH_SECONDS
    assert start_run(seller).prompt_version == first


def test_prompt_files_are_complete():
    for prompt in prompt_files_read(PROMPTS_DIR):
        assert prompt.instructions and prompt.user_text and prompt.description
        assert prompt.params.get("image_detail") in ("low", "high", "auto")
