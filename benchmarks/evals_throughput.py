"""run_evals throughput: 200 cases at concurrency 16 against an OpenAI-protocol server that
answers after a fixed latency, then the same run again from the cache.

Targets: the first run within 1.2x the ideal time, ceil(cases / concurrency) x latency
(200 cases, 16 at a time, 0.5 s: 6.5 s, so at most 7.8 s); the fully cached rerun at least 20x
faster than the first.

Two figures for the first run: the eval run itself (EvalRun created -> finished: cases read,
images prepared, 200 calls, scoring, storing, statistics, gate), which the 1.2x target judges,
and the whole `call_command`, which adds the one-time import of the command's modules in a
fresh process (the openai SDK, about a second here) and the report files.

    .venv/bin/python benchmarks/evals_throughput.py [--cases 200] [--concurrency 16] [--latency 0.5]

It uses its own SQLite database in a temporary folder and starts the local server
(`python -m tests.fake_openai`) in its own process, so the server does not share the
interpreter lock with the client being measured. Results: benchmarks/results/evals_throughput.json
"""

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Django and the app are imported inside the functions: the environment must be set first.
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    args = _parse()
    workdir = Path(tempfile.mkdtemp(prefix="trova-evals-bench-"))
    server = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "tests.fake_openai", "--latency", str(args.latency)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base_url = server.stdout.readline().split()[-1]
        _django_setup(workdir, base_url)
        _cases(args.cases)
        first = _timed_run(args, "use")
        second = _timed_run(args, "use")
    finally:
        server.terminate()
        server.wait(timeout=10)
    _report(args, first, second)


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.5)
    return parser.parse_args()


def _django_setup(workdir: Path, base_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DEBUG="false",
        SECRET_KEY="benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        MEDIA_ROOT=str(workdir / "media"),
        PRIVATE_MEDIA_ROOT=str(workdir / "private"),
        AI_PROVIDER="openai",
        OPENAI_API_KEY="benchmark",
        OPENAI_BASE_URL=base_url,
        REDIS_URL="",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _cases(count: int) -> None:
    """`count` eval cases with distinct pictures (every catalog item, several seeds)."""
    from django.core.files.base import ContentFile

    from ai_prefill.evals.cases import eval_case_create
    from ai_prefill.models import EvalCase
    from marketplace.demo_catalog import CATALOG
    from marketplace.photos import photo_process
    from marketplace.sample_images import render_item

    for index in range(count):
        item = CATALOG[index % len(CATALOG)]
        photo = photo_process(
            ContentFile(render_item(shape=item.shape, color=item.color, seed=index))
        )
        values = {
            "title": item.title, "description": item.description, "category": item.category,
            "condition": item.condition, "brand": item.brand, "color": item.color,
            "price_eur": item.price_eur,
        }  # fmt: skip
        eval_case_create(
            key=f"bench-{index:04d}", image=photo.display, values=values, key_attributes=[],
            tags=[], source=EvalCase.Source.STAFF,
        )  # fmt: skip


def _timed_run(args, cache: str) -> dict:
    from django.core.management import call_command

    from ai_prefill.models import EvalRun

    start = time.perf_counter()
    with contextlib.suppress(SystemExit):  # run_evals exits with the gate's code
        call_command(
            "run_evals", "--provider", "openai", "--concurrency", str(args.concurrency),
            "--cache", cache, "--baseline", "none", "--format", "json",
            "--output-dir", str(RESULTS / "evals_throughput_reports"),
        )  # fmt: skip
    seconds = time.perf_counter() - start
    run = EvalRun.objects.latest("id")
    return {
        "seconds": round(seconds, 3),
        # created -> finished of the run: without Python imports and report writing
        "run_s": round((run.finished_at - run.created_at).total_seconds(), 3),
        "run": run.pk,
        "cached": run.cached_count,
        "n": run.case_count,
    }


def _report(args, first: dict, second: dict) -> None:
    ideal = math.ceil(args.cases / args.concurrency) * args.latency
    # Run against run: the first command also pays the one-time imports, the second does not.
    speedup = first["run_s"] / second["run_s"]
    result = {
        "cases": args.cases,
        "concurrency": args.concurrency,
        "latency_s": args.latency,
        "ideal_s": ideal,
        "first_run_s": first["run_s"],
        "ratio_to_ideal": round(first["run_s"] / ideal, 3),
        "first_command_s": first["seconds"],
        "command_ratio_to_ideal": round(first["seconds"] / ideal, 3),
        "cached_rerun_s": second["run_s"],
        "cached_rerun_command_s": second["seconds"],
        "cached_answers": second["cached"],
        "speedup": round(speedup, 1),
        "target_first_run_within_1.2x": first["run_s"] <= 1.2 * ideal,
        "target_speedup_20x": speedup >= 20,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "evals_throughput.json").write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
