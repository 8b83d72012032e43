from django.apps import AppConfig


class AiPrefillConfig(AppConfig):
    name = "ai_prefill"
