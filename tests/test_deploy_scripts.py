"""deploy/release.sh and deploy/rollback.sh, the real scripts, against two stand-in hosts.

There is no SSH server or Docker engine here, so `ssh`, `scp`, `docker` and `hostname` are small
stand-ins on PATH: ssh runs the remote command in a folder per host (its home), scp copies into
it, docker records each call with the image and compose files it got, and fails `up` for one
image as an unhealthy container would. Everything the scripts decide is real.
"""

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLD = "ghcr.io/acme/trova:1111111"
NEW = "ghcr.io/acme/trova:2222222"
HOSTS = ("deploy@web1", "deploy@web2")
UP = "compose up --detach --no-build --remove-orphans --wait --wait-timeout 300"
ENV_FILE = f"SECRET_KEY=s3cret\nTROVA_IMAGE={OLD}\nPOSTGRES_PASSWORD=pw\n"

STAND_INS = {
    "ssh": """
while [ $# -gt 0 ]; do case $1 in -o) shift 2 ;; -*) shift ;; *) break ;; esac; done
host=$1; shift
cd "$FAKE_HOSTS/$host" || exit 255
FAKE_HOST=$host exec bash -c "$*"
""",
    "scp": """
args=()
while [ $# -gt 0 ]; do case $1 in -o) shift 2 ;; -*) shift ;; *) args+=("$1"); shift ;; esac; done
destination=${args[-1]}
cp "${args[@]:0:${#args[@]}-1}" "$FAKE_HOSTS/${destination%%:*}/${destination#*:}"
""",
    "hostname": 'echo "${FAKE_HOST#*@}"\n',
    "docker": """
tag=${TROVA_IMAGE:-none}
echo "${FAKE_HOST#*@} ${tag##*:} $COMPOSE_FILE $*" >> "$FAKE_DOCKER_LOG"
if [ "$2" = up ] && [ "$TROVA_IMAGE" = "${FAKE_UNHEALTHY_IMAGE:-}" ]; then
  echo "container trova-web-1 is unhealthy" >&2
  exit 1
fi
""",
}


@pytest.fixture
def hosts(tmp_path):
    """Two hosts running OLD, each with its compose folder `trova` and the operator's .env."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STAND_INS.items():
        (bin_dir / name).write_text("#!/usr/bin/env bash\n" + body)
        (bin_dir / name).chmod(0o755)
    for host in HOSTS:
        folder = tmp_path / "hosts" / host / "trova"
        folder.mkdir(parents=True)
        (folder / ".env").write_text(ENV_FILE)
        (folder / ".env").chmod(0o600)
    (tmp_path / "tmp").mkdir()
    return tmp_path


def _deploy(hosts: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOY_")}
    environment.update(
        PATH=f"{hosts / 'bin'}:{os.environ['PATH']}",
        TMPDIR=str(hosts / "tmp"),
        FAKE_HOSTS=str(hosts / "hosts"),
        FAKE_DOCKER_LOG=str(hosts / "docker.log"),
        DEPLOY_HOSTS=" ".join(HOSTS),
        DEPLOY_SSH_KEY="-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n",
        DEPLOY_KNOWN_HOSTS="web1 ssh-ed25519 AAAA\nweb2 ssh-ed25519 AAAA",
        DEPLOY_PATH="trova",  # relative: to the deploy user's home, where ssh starts
        **env,
    )
    return subprocess.run(  # noqa: S603 - our own deploy scripts with fixed arguments
        [ROOT / "deploy" / script, *args], cwd=ROOT, env=environment,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _folder(hosts: Path, host: str) -> Path:
    return hosts / "hosts" / host / "trova"


def _docker_calls(hosts: Path) -> list[str]:
    log = hosts / "docker.log"
    return log.read_text().splitlines() if log.exists() else []


def test_release_pulls_everywhere_migrates_once_then_switches_host_by_host(hosts):
    result = _deploy(hosts, "release.sh", "production", NEW)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"release: production runs {NEW} on 2 host(s)"
    assert _docker_calls(hosts) == [
        f"web1 none docker-compose.yml pull --quiet {NEW}",
        "web1 2222222 docker-compose.yml compose pull --quiet --ignore-buildable",
        f"web2 none docker-compose.yml pull --quiet {NEW}",
        "web2 2222222 docker-compose.yml compose pull --quiet --ignore-buildable",
        "web1 2222222 docker-compose.yml compose run --rm migrate",
        f"web1 2222222 docker-compose.yml {UP}",
        f"web2 2222222 docker-compose.yml {UP}",
    ]
    for host in HOSTS:
        folder = _folder(hosts, host)
        # The image is in .env for any later `docker compose` on the host; the secrets stay, and
        # so does the file's mode.
        assert (folder / ".env").read_text() == (
            f"SECRET_KEY=s3cret\nPOSTGRES_PASSWORD=pw\nTROVA_IMAGE={NEW}\n"
        )
        assert stat.S_IMODE((folder / ".env").stat().st_mode) == 0o600
        assert (folder / ".trova-previous-image").read_text() == f"{OLD}\n"
        compose = (folder / "docker-compose.yml").read_bytes()
        assert compose == (ROOT / "docker-compose.yml").read_bytes()
    # The private key was written for ssh only, and removed with its folder.
    assert list((hosts / "tmp").iterdir()) == []


def test_an_unhealthy_host_stops_the_rollout_and_rollback_undoes_only_what_changed(hosts):
    release = _deploy(hosts, "release.sh", "production", NEW, FAKE_UNHEALTHY_IMAGE=NEW)

    assert release.returncode == 1
    assert f"deploy on web1: the services on {NEW} did not become healthy within 300s" in (
        release.stderr
    )
    assert not any(call.startswith("web2") and " up " in call for call in _docker_calls(hosts))
    assert f"TROVA_IMAGE={OLD}\n" in (_folder(hosts, "deploy@web2") / ".env").read_text()

    rollback = _deploy(hosts, "rollback.sh", "production", NEW)

    assert rollback.returncode == 0, rollback.stderr
    assert rollback.stdout.splitlines() == [
        f"web1: rolled back to {OLD}, healthy",
        f"web2: not running {NEW}, nothing to roll back",
        "rollback: production is back on its previous image on 2 host(s)",
    ]
    assert _docker_calls(hosts)[-1] == f"web1 1111111 docker-compose.yml {UP}"
    for host in HOSTS:
        assert f"TROVA_IMAGE={OLD}\n" in (_folder(hosts, host) / ".env").read_text()


def test_a_redeploy_of_the_running_image_keeps_the_older_rollback_target(hosts):
    assert _deploy(hosts, "release.sh", "production", NEW).returncode == 0
    assert _deploy(hosts, "release.sh", "production", NEW).returncode == 0

    assert (_folder(hosts, "deploy@web1") / ".trova-previous-image").read_text() == f"{OLD}\n"


def test_rollback_with_nothing_recorded_fails_with_a_sentence(hosts):
    result = _deploy(hosts, "rollback.sh", "production")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "deploy on web1: no previous image recorded in trova/.trova-previous-image",
        "deploy on web2: no previous image recorded in trova/.trova-previous-image",
        "rollback.sh: rollback failed on at least one host of production (see above)",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (("prod", NEW), "release.sh: unknown environment 'prod' (staging or production)"),
        (("staging", "trova"), "release.sh: IMAGE must name a tag or digest (got 'trova')"),
    ],
)
def test_release_refuses_a_bad_environment_or_image_before_touching_a_host(hosts, args, message):
    result = _deploy(hosts, "release.sh", *args)

    assert (result.returncode, result.stderr.strip()) == (1, message)
    assert _docker_calls(hosts) == []


def test_staging_runs_the_staging_override_on_top_of_the_compose_file(hosts):
    result = _deploy(hosts, "release.sh", "staging", NEW)

    assert result.returncode == 0, result.stderr
    files = "docker-compose.yml:docker-compose.staging.yml"
    assert _docker_calls(hosts)[-3:] == [
        f"web1 2222222 {files} compose run --rm migrate",
        f"web1 2222222 {files} {UP}",
        f"web2 2222222 {files} {UP}",
    ]
    for host in HOSTS:
        for name in ("docker-compose.yml", "docker-compose.staging.yml"):
            copied = (_folder(hosts, host) / name).read_bytes()
            assert copied == (ROOT / name).read_bytes(), (host, name)
