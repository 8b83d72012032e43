"""The S3-compatible backends of settings.STORAGES (django-storages), chosen by settings.py
when AWS_STORAGE_BUCKET_NAME is set (marketplace/storage_settings.py gives their options)."""

from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured
from storages.backends.s3 import S3Storage

# botocore's defaults (60 s to connect, 60 s per read, legacy retries) would hold a seller's
# upload for minutes when the store hangs; these fail it within about a minute at worst.
BOUNDED_CALLS = Config(
    connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3}
)


class _BoundedS3Storage(S3Storage):
    def __init__(self, **options):
        super().__init__(**options)
        # On top of the addressing style and signature version S3Storage put in its config.
        self.client_config = self.client_config.merge(BOUNDED_CALLS)


class PublicS3Storage(_BoundedS3Storage):
    """Listing photos: public objects, linked by a plain URL (no signature to expire in a page
    a browser or a search engine keeps). Public read comes from the bucket policy, not from
    per-object ACLs, which new AWS buckets refuse ("bucket owner enforced")."""

    querystring_auth = False
    default_acl = None
    # Upload names are random (listings/models.py), but S3Storage would overwrite a name that
    # exists, where Django's local storage picks another: keep Django's behaviour.
    file_overwrite = False


class PrivateS3Storage(_BoundedS3Storage):
    """Run photos and eval images: private objects; any URL it hands out is signed and short."""

    querystring_auth = True
    default_acl = None
    file_overwrite = False

    def __init__(self, **options):
        super().__init__(**options)
        # django-storages signs nothing under a custom domain (unless CloudFront keys are set):
        # a private object must never get such a URL.
        if self.custom_domain or not self.querystring_auth:
            raise ImproperlyConfigured(
                "The private storage needs signed URLs: no custom domain, querystring_auth on."
            )

    def url(self, name, parameters=None, expire=None, http_method=None):
        url = super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        if "X-Amz-Signature=" not in url:
            raise ImproperlyConfigured(f"Refusing an unsigned URL for the private file {name}.")
        return url
