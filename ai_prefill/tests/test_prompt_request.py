"""Prompt tests: what exactly goes to the model, and what comes back onto the run."""

import base64
import io

import pytest
from PIL import Image

from ai_prefill.models import PrefillRun
from ai_prefill.prompt_registry import prompt_version_production
from ai_prefill.tasks import prefill_run_process
from ai_prefill.tests.factories import start_run
from marketplace.taxonomy import Category, Condition
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.django_db

DRAFT = {
    "title": "Oak dining chair",
    "description": "Solid oak chair with light scratches on the seat.",
    "category": "furniture",
    "condition": "good",
    "brand": None,
    "color": "brown",
    "price_eur": 35.0,
}


def _run(seller, fake_openai, django_capture_on_commit_callbacks):
    fake_openai.script(Behaviour.success(draft=DRAFT))
    with django_capture_on_commit_callbacks(execute=True):
        run = start_run(seller, shape="chair", color="brown", size=(1600, 1200))
    return PrefillRun.objects.get(pk=run.pk), fake_openai.requests[0].body


def _image_from_data_url(url: str) -> Image.Image:
    assert url.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_responses_request_carries_prompt_image_and_strict_schema(
    seller, fake_openai, settings, django_capture_on_commit_callbacks
):
    settings.AI_MODEL = "gpt-4.1-mini"
    run, body = _run(seller, fake_openai, django_capture_on_commit_callbacks)
    version = prompt_version_production()

    assert body["model"] == "gpt-4.1-mini" and body["store"] is False
    assert body["instructions"] == version.instructions
    assert body["temperature"] == version.params["temperature"]
    assert body["max_output_tokens"] == version.params["max_output_tokens"]
    text_part, image_part = body["input"][0]["content"]
    assert text_part == {"type": "input_text", "text": version.user_text}
    assert image_part["detail"] == "low"
    image = _image_from_data_url(image_part["image_url"])
    assert max(image.size) == settings.AI_IMAGE_MAX_SIDE
    assert not image.getexif()

    schema_format = body["text"]["format"]
    assert schema_format["type"] == "json_schema" and schema_format["strict"] is True
    schema = schema_format["schema"]
    assert set(schema["required"]) == set(DRAFT) and schema["additionalProperties"] is False
    assert schema["properties"]["category"]["enum"] == Category.values
    assert schema["properties"]["condition"]["enum"] == Condition.values

    assert run.draft == DRAFT
    assert run.prompt_version == version and run.model == "gpt-4.1-mini"
    assert run.params["temperature"] == version.params["temperature"]
    assert run.params["api_style"] == "responses"
    assert run.image_bytes_sent == len(base64.b64decode(image_part["image_url"].split(",", 1)[1]))


def test_the_run_keeps_the_image_the_model_was_sent(
    seller, fake_openai, settings, django_capture_on_commit_callbacks
):
    run, body = _run(seller, fake_openai, django_capture_on_commit_callbacks)
    sent = base64.b64decode(body["input"][0]["content"][1]["image_url"].split(",", 1)[1])
    with run.model_image.open("rb") as stored:
        assert stored.read() == sent  # made at upload; the worker only sends it
    assert run.image_bytes_sent == len(sent)


def test_a_run_without_a_stored_model_image_has_its_photo_prepared(
    seller, fake_openai, settings, django_capture_on_commit_callbacks
):
    """Runs queued before model images were stored at upload still get the same request."""
    fake_openai.script(Behaviour.success(draft=DRAFT))
    run = start_run(seller, shape="chair", color="brown", size=(1600, 1200))
    run.model_image.delete(save=True)
    with django_capture_on_commit_callbacks(execute=True):
        prefill_run_process.delay(str(run.pk))
    run.refresh_from_db()
    assert run.status == "succeeded" and not run.model_image
    image_part = fake_openai.requests[0].body["input"][0]["content"][1]
    image = _image_from_data_url(image_part["image_url"])
    assert max(image.size) == settings.AI_IMAGE_MAX_SIDE and not image.getexif()


def test_chat_request_carries_system_prompt_image_and_strict_schema(
    seller, fake_openai, settings, django_capture_on_commit_callbacks
):
    settings.OPENAI_API_STYLE = "chat"
    run, body = _run(seller, fake_openai, django_capture_on_commit_callbacks)
    version = prompt_version_production()

    system, user = body["messages"]
    assert system == {"role": "system", "content": version.instructions}
    assert user["content"][0] == {"type": "text", "text": version.user_text}
    _image_from_data_url(user["content"][1]["image_url"]["url"])
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert body["max_tokens"] == version.params["max_output_tokens"]
    assert run.draft == DRAFT and run.params["api_style"] == "chat"


def test_api_answer_names_prompt_version_and_model(
    seller, client_for, fake_openai, django_capture_on_commit_callbacks
):
    run, _ = _run(seller, fake_openai, django_capture_on_commit_callbacks)
    body = client_for(seller).get(f"/api/prefill/{run.pk}/").json()
    assert body == {
        "id": str(run.pk),
        "status": "succeeded",
        "draft": DRAFT,
        "error": None,
        "prompt_version": run.prompt_version.label,
        "model": run.model,
        "poll_after_ms": None,
    }
