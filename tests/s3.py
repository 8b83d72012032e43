"""A local S3 server for the object-storage tests: moto's server mode (`moto_server`, from
requirements-dev.txt) in a subprocess on a free port, and buckets set up as docs/deploying.md
tells operators to (public read of the public media by bucket policy, nothing else public).

What moto enforces, checked against moto 5.2.5 (moto/s3/responses.py `_key_response`): an
anonymous GET (no Authorization header, no signature in the query) of an object is refused with
403 unless the bucket policy or the object's ACL allows it. A query-string signature is NOT
verified: any URL carrying `Signature=` is served, whatever its signature or expiry. So these
tests can prove that private objects refuse anonymous reads and that public ones allow them;
for what moto skips, `sigv4_url_valid` below checks a signed URL the way S3 does (AWS
Signature Version 4, query-string form): the signature matches and the lifetime has not run out.
"""

import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import boto3

from marketplace.storage_settings import PUBLIC_MEDIA_LOCATION
from tests.outage import free_port

REGION = "us-east-1"
# moto accepts any keys; boto3 needs some to sign with.
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"  # noqa: S105 - a local test server's, not a secret
START_TIMEOUT_SECONDS = 30


def public_read_policy(bucket: str, prefix: str = PUBLIC_MEDIA_LOCATION) -> dict:
    """The bucket policy operators apply to the public media (docs/deploying.md): anyone may
    read objects under media/, and nothing else (the private files may share the bucket)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicReadOfListingPhotos",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*",
            }
        ],
    }


def anonymous_get(url: str) -> tuple[int, bytes]:
    """GET with no credentials at all, as a browser or a stranger would."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - localhost
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class MotoS3Server:
    """`moto_server` on 127.0.0.1 and a free port; raises if it does not answer in time."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "MotoS3Server":
        executable = Path(sys.executable).with_name("moto_server")
        if not executable.exists():
            raise RuntimeError(f"{executable} is missing: pip install -r requirements-dev.txt")
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - the venv's moto_server, fixed arguments
                [str(executable), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1)  # noqa: S310
                return
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        log = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"moto_server did not answer on {self.endpoint_url}:\n{log}")

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


@dataclass
class S3Buckets:
    """A fresh pair of buckets for one test, set up as an operator would."""

    server: MotoS3Server
    public: str
    private: str

    @classmethod
    def create(cls, server: MotoS3Server, *, shared: bool = False) -> "S3Buckets":
        """Two buckets, or one holding both kinds (`shared`: private files under private/)."""
        name = f"trova-{uuid.uuid4().hex[:12]}"
        public, private = (name, name) if shared else (f"{name}-media", f"{name}-private")
        client = server.client()
        for bucket in {public, private}:
            client.create_bucket(Bucket=bucket)
        client.put_bucket_policy(Bucket=public, Policy=json.dumps(public_read_policy(public)))
        return cls(server=server, public=public, private=private)

    def keys(self, bucket: str) -> list[str]:
        listed = self.server.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        return self.server.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def unsigned_url(self, bucket: str, key: str) -> str:
        return f"{self.server.endpoint_url}/{bucket}/{key}"


def sigv4_url_valid(url: str, *, secret_key: str = SECRET_KEY, now: datetime) -> bool:
    """Would S3 accept this presigned GET URL at `now`? Its signature recomputed from the URL
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html), and
    X-Amz-Date + X-Amz-Expires not passed. The expiry is inside the signed text, so a URL
    whose lifetime was lengthened no longer matches."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = query.pop("X-Amz-Signature", "")
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical_request = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = query["X-Amz-Credential"].split("/", 1)[1]
    date, region, service, _ = scope.split("/")
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            query["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    alive = now < signed_at + timedelta(seconds=int(query["X-Amz-Expires"]))
    return hmac.compare_digest(signature, expected) and alive
