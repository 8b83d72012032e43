"""docker-compose.yml and its staging override, checked against the code they run.

No Docker engine runs on these machines, so the files are read as YAML (merge keys resolved) and
held to what the code defines: every queue kind has a worker, beat runs once, health checks ask
readiness and heartbeats, every container that writes photos or metrics shares them, and the
staging override only adjusts services that exist.
"""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from marketplace.task_queues import QueueKind
from monitoring.heartbeats import worker_kind

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker-prefill", "worker-evals", "worker-maintenance", "beat")


def _load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def compose():
    return _load("docker-compose.yml")


@pytest.fixture(scope="module")
def staging():
    return _load("docker-compose.staging.yml")


def _argv(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def _celery(service: dict, subcommand: str) -> bool:
    argv = _argv(service)
    return argv[:1] == ["celery"] and subcommand in argv


def _worker_queues(service: dict) -> list[str]:
    argv = _argv(service)
    return argv[argv.index("-Q") + 1].split(",")


def test_the_app_services_are_the_ones_documented(compose):
    app = [name for name, service in compose["services"].items() if "build" in service]
    assert sorted(app) == sorted(APP_SERVICES)


def test_every_queue_kind_is_consumed_by_exactly_one_worker_service(compose):
    workers = {n: s for n, s in compose["services"].items() if _celery(s, "worker")}
    consumed = [queue for service in workers.values() for queue in _worker_queues(service)]
    # The compose deployment uses no prefix: the queue names are the kinds themselves.
    assert sorted(consumed) == sorted(kind.value for kind in QueueKind)
    assert "prefill" in _worker_queues(workers["worker-prefill"])
    assert _worker_queues(workers["worker-evals"]) == ["evals"]


def test_beat_runs_once_and_in_its_own_profile(compose):
    beats = [n for n, s in compose["services"].items() if _celery(s, "beat")]
    assert beats == ["beat"]
    assert compose["services"]["beat"]["profiles"] == ["beat"]
    # No worker embeds a beat (-B): that would be a second scheduler on every worker host.
    for name, service in compose["services"].items():
        if _celery(service, "worker"):
            assert "-B" not in _argv(service) and "--beat" not in _argv(service), name


def test_health_checks_ask_readiness_and_heartbeats(compose):
    services = compose["services"]
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    workers = {n: s for n, s in services.items() if _celery(s, "worker")}
    assert sorted(workers) == ["worker-evals", "worker-maintenance", "worker-prefill"]
    for name, service in workers.items():
        # Its own heartbeat of its main kind: the first queue it consumes.
        kind = worker_kind(QueueKind(_worker_queues(service)[0]))
        test = service["healthcheck"]["test"]
        assert test[-3:] == ["monitoring_heartbeat_check", "--kind", kind], name
        assert service["healthcheck"]["interval"] == "60s", name
    assert services["beat"]["healthcheck"]["test"][-2:] == ["--kind", "beat"]
    assert services["migrate"]["healthcheck"] == {"disable": True}


def test_everything_waits_for_the_migrations(compose):
    for name in APP_SERVICES:
        if name == "migrate":
            continue
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        # Managed PostgreSQL/Redis: the bundled ones are not started, and not required.
        assert depends["db"]["required"] is False and depends["redis"]["required"] is False


def test_photos_and_metrics_are_shared_volumes(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        volumes = services[name]["volumes"]
        env = services[name]["environment"]
        assert f"media:{env['MEDIA_ROOT']}" in volumes, name
        assert f"private-media:{env['PRIVATE_MEDIA_ROOT']}" in volumes, name
        assert "metrics:/run/trova-metrics" in volumes, name
    scraped = services["web"]["environment"]["METRICS_SCRAPE_DIRS"].split(",")
    # A worker host without web: worker-prefill's own port serves every worker's folder.
    worker_host = services["worker-prefill"]["environment"]["METRICS_SCRAPE_DIRS"].split(",")
    for name, service in services.items():
        own = service.get("environment", {}).get("PROMETHEUS_MULTIPROC_DIR")
        if own:
            assert own in scraped, f"{name} writes metrics the web's /metrics never merges"
            if name.startswith("worker-"):
                assert own in worker_host, f"{name}'s metrics are lost on a host without web"


def test_the_image_is_chosen_by_trova_image(compose):
    for name in APP_SERVICES:
        assert compose["services"][name]["image"] == "${TROVA_IMAGE:-trova:latest}", name


def test_the_staging_override_adjusts_existing_services_and_requires_what_staging_proves(
    compose, staging
):
    assert set(staging["services"]) <= set(compose["services"])
    assert set(staging["services"]) == set(APP_SERVICES)
    for name, service in staging["services"].items():
        assert re.fullmatch(r"\$\{TROVA_IMAGE:\?.+\}", service["image"]), name
        env = service["environment"]
        for required in ("AWS_STORAGE_BUCKET_NAME", "SITE_URL", "ALLOWED_HOSTS"):
            assert env[required].startswith("${" + required + ":?"), (name, required)
    assert _worker_queues(staging["services"]["worker-prefill"]) == ["prefill"]


def test_the_deploy_scripts_run_the_files_that_exist():
    hosts = (ROOT / "deploy" / "hosts.sh").read_text()
    per_environment = re.findall(r'(staging|production)\) echo "([^"]+)"', hosts)
    assert [env for env, _ in per_environment] == ["staging", "production"]
    for _, files in per_environment:
        for name in files.split():
            assert (ROOT / name).is_file(), name
