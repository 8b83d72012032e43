"""Where uploaded images live: local folders (the embedded default) or S3-compatible storage.

Two kinds of files, two entries of settings.STORAGES (settings.py decides which backends;
marketplace/storage_settings.py builds the S3 ones, whose classes are in storage_s3.py, apart,
so that a process without S3 never imports boto3):

- "default": listing photos and thumbnails, public, linked by plain URL.
- "private": pre-fill run photos and eval images, never readable by URL without a signature.
  The site serves them only through its permission-checked views (the pre-fill photo API, the
  run log and annotation admin, the eval case image), which stream them from the storage rather
  than redirect to a signed URL: the check then covers every read, no signed URL (a bearer
  token for its lifetime) reaches a browser's history, a log or a Referer, the images keep
  the site's origin (CSP unchanged) and `Cache-Control: private`. They are small JPEGs
  (PHOTO_DISPLAY_MAX_SIDE), so passing them through costs the web process little.
"""

import logging
import os

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils.deconstruct import deconstructible

# What a storage call raises when the disk or the object store fails: a caller that only tidies
# up (deleting a replaced photo after commit) logs these instead of failing.
STORAGE_ERRORS = (OSError, BotoCoreError, ClientError)

logger = logging.getLogger(__name__)


def files_delete_quietly(storage: Storage, *names: str) -> None:
    """Delete these files (empty names skipped), logging a failure instead of raising it.

    For tidying up only: a replaced photo after commit, or the files of a save that failed,
    where raising would turn a done save into an error or hide the error that matters."""
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except STORAGE_ERRORS:
            logger.warning("could not delete %s", name, exc_info=True)


class PrivateFileSystemStorage(FileSystemStorage):
    """Private files on local disk, outside MEDIA_ROOT (so never under /media/).

    The folder is read from settings on every use, so tests can point it at a temporary one."""

    @property
    def base_location(self):
        return settings.PRIVATE_MEDIA_ROOT

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Private files have no public URL; serve them through a checked view.")


def media_buckets() -> list[tuple[str, Storage]]:
    """The object-storage buckets the media storages use, each once with a storage on it
    ([] when the files are on local disk)."""
    found = {}
    for alias in ("default", "private"):
        backend = storages[alias]
        bucket = getattr(backend, "bucket_name", None)  # django-storages' S3Storage has one
        if bucket:
            found.setdefault(bucket, backend)
    return list(found.items())


def media_bucket_probe(bucket: str, backend: Storage) -> None:
    """HEAD the bucket: raises the store's error when it is missing, not ours (403), or
    unreachable. What readiness asks before the site takes a seller's photo."""
    backend.connection.meta.client.head_bucket(Bucket=bucket)


@deconstructible
class PrivateMediaStorage(Storage):
    """The "private" entry of settings.STORAGES, looked up on every call, so a model field can
    hold this object while the deployment (or a test) chooses the backend.

    A migration names this class with no arguments, never the backend, so migrations are the
    same with and without S3. Every public Storage method is passed on explicitly: the
    backend's own (S3's name cleaning and overwrite rule) must apply, not Storage's defaults."""

    @property
    def backend(self) -> Storage:
        return storages["private"]

    def open(self, name, mode="rb"):
        return self.backend.open(name, mode)

    def save(self, name, content, max_length=None):
        return self.backend.save(name, content, max_length=max_length)

    def get_valid_name(self, name):
        return self.backend.get_valid_name(name)

    def get_alternative_name(self, file_root, file_ext):
        return self.backend.get_alternative_name(file_root, file_ext)

    def get_available_name(self, name, max_length=None):
        return self.backend.get_available_name(name, max_length=max_length)

    def generate_filename(self, filename):
        return self.backend.generate_filename(filename)

    def path(self, name):
        return self.backend.path(name)

    def delete(self, name):
        return self.backend.delete(name)

    def exists(self, name):
        return self.backend.exists(name)

    def listdir(self, path):
        return self.backend.listdir(path)

    def size(self, name):
        return self.backend.size(name)

    def url(self, name):
        return self.backend.url(name)

    def get_accessed_time(self, name):
        return self.backend.get_accessed_time(name)

    def get_created_time(self, name):
        return self.backend.get_created_time(name)

    def get_modified_time(self, name):
        return self.backend.get_modified_time(name)
