from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AiPrefillConfig(AppConfig):
    name = "ai_prefill"
    verbose_name = "AI pre-fill"

    def ready(self):
        post_migrate.connect(_register_prompts, sender=self)


def _register_prompts(sender, **kwargs):
    # New prompt files become versions as part of every deploy (migrate runs on deploy).
    # Imported here because models cannot load before the app registry is ready.
    from .prompt_registry import prompt_versions_sync

    prompt_versions_sync()
