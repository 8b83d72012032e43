"""Intake statistics are recorded for every pre-fill upload, through the real upload service."""

import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from ai_prefill import services
from ai_prefill.tests.factories import start_run
from marketplace.photos import photo_process
from marketplace.sample_images import render_item
from monitoring.drift_models import IntakeStats

pytestmark = pytest.mark.django_db


def test_an_upload_records_its_photo_statistics(seller):
    run = start_run(seller, size=(800, 600))
    stats = IntakeStats.objects.get(run=run)
    assert stats.created_at == run.created_at
    assert stats.megapixels == pytest.approx(0.48)
    assert stats.aspect == pytest.approx(800 / 600)
    assert 150 < stats.brightness < 255  # a light background
    assert stats.sharpness > 20


def test_the_pixel_size_is_the_uploads_not_the_display_copys(seller):
    # 3000 x 2000 is shrunk to 1600 px for display; the statistic keeps what the seller sent.
    run = start_run(seller, size=(3000, 2000))
    stats = IntakeStats.objects.get(run=run)
    assert stats.megapixels == pytest.approx(6.0)
    assert stats.aspect == pytest.approx(1.5, rel=1e-3)  # of the 1600 x 1067 copy


def _upload(image: Image.Image):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return photo_process(ContentFile(out.getvalue()))


def test_a_dark_upload_reads_darker_than_a_light_one(seller):
    light = Image.open(io.BytesIO(render_item(shape="chair", color="blue")))
    dark = light.point(lambda v: v // 5)
    light_run = services.prefill_run_start(user=seller, photo=_upload(light))
    dark_run = services.prefill_run_start(user=seller, photo=_upload(dark))
    light_stats = IntakeStats.objects.get(run=light_run)
    dark_stats = IntakeStats.objects.get(run=dark_run)
    assert dark_stats.brightness < 64 <= light_stats.brightness


def test_a_failing_measurement_never_fails_the_upload(seller, monkeypatch, caplog):
    def broken(**kwargs):
        raise ValueError("cannot measure")

    monkeypatch.setattr("monitoring.drift_services.photo_stats", broken)
    run = start_run(seller)
    assert run.pk is not None
    assert not IntakeStats.objects.filter(run=run).exists()
    assert "cannot measure" in caplog.text
