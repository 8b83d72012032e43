from django.core.files.base import ContentFile

from ai_prefill import services
from marketplace.photos import photo_process
from marketplace.sample_images import render_item


def sample_photo(shape: str = "bike", color: str = "red", size=(800, 600)):
    return photo_process(ContentFile(render_item(shape=shape, color=color, size=size)))


def start_run(user, **photo_kwargs):
    """A run started through the real service (in tests its task runs in-process on commit)."""
    return services.prefill_run_start(user=user, photo=sample_photo(**photo_kwargs))
