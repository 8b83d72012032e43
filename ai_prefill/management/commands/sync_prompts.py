from django.core.management.base import BaseCommand

from ai_prefill.models import PromptLabel
from ai_prefill.prompt_registry import prompt_version_production, prompt_versions_sync


class Command(BaseCommand):
    help = "Register the prompt files in ai_prefill/prompts/ as versions (also runs after migrate)."

    def handle(self, *args, **options):
        versions = prompt_versions_sync()
        production = prompt_version_production()
        for version in versions:
            marker = f"  <- {PromptLabel.PRODUCTION}" if version == production else ""
            self.stdout.write(f"{version.label}  {version.description}{marker}")
        if production not in versions:
            self.stdout.write(f"{PromptLabel.PRODUCTION}: {production.label} (not the file's text)")
