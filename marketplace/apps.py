from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Trova"

    def ready(self):
        # HEIC/HEIF (iPhone photos) become readable by Pillow everywhere in the process.
        from pillow_heif import register_heif_opener

        register_heif_opener()
