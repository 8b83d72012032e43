"""settings.STORAGES for uploaded images on S3-compatible object storage (marketplace/storage_s3.py
has the backends). Plain data, no imports of boto3: settings.py calls this on every start.

Shared by settings and by the tests that point the same configuration at a local S3 server."""

from urllib.parse import urlsplit

# With one bucket for both kinds, these prefixes keep them apart: the bucket policy grants
# public read on media/* only.
PUBLIC_MEDIA_LOCATION = "media"
PRIVATE_MEDIA_LOCATION = "private"


def media_storages(
    *,
    bucket: str,
    private_bucket: str = "",
    endpoint_url: str = "",
    region: str = "",
    custom_domain: str = "",
    signed_url_seconds: int = 300,
) -> dict:
    """STORAGES' "default" (public listing photos) and "private" (run photos, eval images).

    Keys come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or the
    instance's role, read by boto3 itself: they never pass through settings."""
    common = {
        "endpoint_url": endpoint_url or None,
        "region_name": region or None,
        # SigV4: what every AWS region and S3-compatible server accepts (SigV2 is retired).
        "signature_version": "s3v4",
        # A server of one's own (MinIO, moto) is addressed by path, the bucket in the URL's
        # path, which needs no wildcard DNS; AWS itself by virtual host, boto3's choice.
        "addressing_style": "path" if endpoint_url else None,
    }
    return {
        "default": {
            "BACKEND": "marketplace.storage_s3.PublicS3Storage",
            "OPTIONS": {
                **common,
                "bucket_name": bucket,
                "location": PUBLIC_MEDIA_LOCATION,
                "custom_domain": custom_domain or None,
                # Names are random per upload, yet a removed listing's photo may stay in
                # browser and CDN caches this long: a day, not a year.
                "object_parameters": {"CacheControl": "public, max-age=86400"},
            },
        },
        "private": {
            "BACKEND": "marketplace.storage_s3.PrivateS3Storage",
            "OPTIONS": {
                **common,
                "bucket_name": private_bucket or bucket,
                "location": PRIVATE_MEDIA_LOCATION,
                "querystring_expire": signed_url_seconds,
                "object_parameters": {"CacheControl": "private, no-store"},
            },
        },
    }


def media_origins(
    *, bucket: str, endpoint_url: str = "", region: str = "", custom_domain: str = ""
) -> list[str]:
    """Where browsers fetch public media from: the Content-Security-Policy's img-src needs it.
    (Private images are streamed by the site's own views, so they need no entry.)"""
    if custom_domain:
        return [f"https://{custom_domain}"]
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        return [f"{parts.scheme}://{parts.netloc}"]
    regional = [f"https://{bucket}.s3.{region}.amazonaws.com"] if region else []
    return [f"https://{bucket}.s3.amazonaws.com", *regional]
