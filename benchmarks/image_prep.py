"""Image preparation cost: a 12-megapixel phone photo, as the model sees it and as intake stores it.

What it measures
    1. `ai_prefill.image_prep.image_prepare_for_model(data, max_side=512, quality=80)`: what the
       Celery worker does before every provider call (decode at reduced DCT scale, EXIF
       transpose, LANCZOS thumbnail, JPEG encode with optimize). Wall time and process CPU time
       per call, p50 / p95 / max over --runs runs after --warmup, and the payload: JPEG bytes,
       its pixel size and the base64 data URL length actually put into the request.
       Targets: p50 and p95 under 150 ms; payload under 200 KB.
    2. `marketplace.photos.photo_process(upload)`: the whole upload intake the web request runs
       (byte cap, header check, full decode at display scale, colour profile, upright RGB,
       display JPEG of 1600 px and a 400 px thumbnail), on the same file, for the record.

The photo
    4000x3000 RGB drawn with Pillow only (no numpy, no downloads): gradients, coarse and fine
    Gaussian noise and a few blurred shapes, so it compresses like a camera photo (about 3-5 MB
    at JPEG quality 92, 4:2:0). It carries EXIF (camera make and model, orientation from
    --orientation; 6 = a portrait phone photo, which makes both functions rotate) and an sRGB
    ICC profile, as phone photos do (--no-icc leaves the profile out, to show what it costs).
    The file is generated in memory once per run (deterministic for a --seed).

Run (from the repository root; check `uptime` first: the script waits for a quiet machine)
    .venv/bin/python benchmarks/image_prep.py
    .venv/bin/python benchmarks/image_prep.py --runs 50 --orientation 6 --label portrait
    .venv/bin/python benchmarks/image_prep.py --no-icc --label no-icc
    .venv/bin/python benchmarks/image_prep.py --max-side 768 --quality 85

Results: a table on stdout and benchmarks/results/image_prep.json (with --label: -<label>).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from common import percentile, wait_for_quiet_machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
TARGET_PREP_MS = 150.0
TARGET_PAYLOAD_BYTES = 200 * 1024


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--size", default="4000x3000", help="photo WxH")
    parser.add_argument("--max-side", type=int, default=512)
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--orientation", type=int, default=1, help="EXIF orientation, 1-8")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-icc", action="store_true", help="no embedded sRGB profile (shows what it costs)"
    )
    parser.add_argument("--max-load", type=float, default=1.5, help="wait while load avg above")
    parser.add_argument("--load-wait", type=float, default=300, help="max seconds to wait")
    parser.add_argument("--label", default=None, help="results file suffix")
    args = parser.parse_args()
    width, _, height = args.size.partition("x")
    args.size = (int(width), int(height))
    return args


def configure_django() -> None:
    """photo_process reads PHOTO_* settings; nothing here touches a database or Redis."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        SECRET_KEY="benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DEBUG="false",
        DATABASE_URL="sqlite://:memory:",
        REDIS_URL="",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def photographic_jpeg(size: tuple[int, int], *, seed: int, orientation: int, icc: bool) -> bytes:
    """A camera-like JPEG: smooth light, texture at several scales, sensor grain, EXIF, ICC."""
    from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFilter

    rng = random.Random(seed)
    w, h = size
    linear = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    radial = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    pairs = (
        (linear, radial),
        (radial.transpose(Image.Transpose.FLIP_LEFT_RIGHT), linear),
        (linear.rotate(90), radial),
    )
    channels = []
    for i, (a, b) in enumerate(pairs):
        light = Image.blend(a, b, 0.3 + 0.2 * i)
        texture = Image.effect_noise((w // 8, h // 8), 40).resize(size, Image.Resampling.BICUBIC)
        channels.append(Image.blend(light, texture, 0.45))
    image = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(image)
    for _ in range(12):  # objects with edges
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(100, 700)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in "rgb"))
    image = image.filter(ImageFilter.GaussianBlur(2))  # lens softness
    grain = Image.effect_noise(size, 7).convert("RGB")  # sensor noise around 128
    image = ImageChops.add(image, grain, scale=1.0, offset=-128)
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"  # Make
    exif[0x0110] = "Model 12MP"  # Model
    exif[0x0112] = orientation  # Orientation
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() if icc else None
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif, icc_profile=profile)
    return out.getvalue()


def timed(func, runs: int, warmup: int) -> dict:
    """Wall and process-CPU milliseconds per call; CPU shows whether load inflated the wall."""
    for _ in range(warmup):
        func()
    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        func()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {
        "runs": runs,
        "wall_ms": {
            "p50": round(percentile(wall, 50), 1),
            "p95": round(percentile(wall, 95), 1),
            "max": round(max(wall), 1),
            "mean": round(statistics.fmean(wall), 1),
        },
        "cpu_ms": {"p50": round(percentile(cpu, 50), 1), "p95": round(percentile(cpu, 95), 1)},
    }


def main() -> None:
    args = parse_args()
    configure_django()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from ai_prefill.image_prep import image_prepare_for_model
    from marketplace.photos import photo_process

    print("Generating the photo ...", flush=True)
    data = photographic_jpeg(
        args.size, seed=args.seed, orientation=args.orientation, icc=not args.no_icc
    )
    with Image.open(io.BytesIO(data)) as probe:
        print(
            f"  {probe.size[0]}x{probe.size[1]} JPEG, {len(data) / 1e6:.2f} MB, "
            f"orientation {args.orientation}, "
            f"{'no ICC profile' if args.no_icc else 'sRGB ICC profile'}"
        )
    print("Waiting for a quiet machine ...", flush=True)
    load = wait_for_quiet_machine(args.max_load, args.load_wait)
    print(f"  load average {load['when_measuring']} (waited {load['waited_s']} s)")

    def prep():
        return image_prepare_for_model(data, max_side=args.max_side, quality=args.quality)

    def intake():
        return photo_process(SimpleUploadedFile("photo.jpg", data, "image/jpeg"))

    model_image = prep()
    processed = intake()
    results = {
        "image_prepare_for_model": {
            **timed(prep, args.runs, args.warmup),
            "payload_bytes": len(model_image.jpeg),
            "payload_size": [model_image.width, model_image.height],
            "data_url_chars": len(model_image.data_url),
        },
        "photo_process": {
            **timed(intake, args.runs, args.warmup),
            "display_bytes": len(processed.display),
            "display_size": [processed.width, processed.height],
            "thumbnail_bytes": len(processed.thumbnail),
        },
    }
    prep_r, intake_r = results["image_prepare_for_model"], results["photo_process"]
    targets = {
        f"prep p50 < {TARGET_PREP_MS:.0f} ms": prep_r["wall_ms"]["p50"] < TARGET_PREP_MS,
        f"prep p95 < {TARGET_PREP_MS:.0f} ms": prep_r["wall_ms"]["p95"] < TARGET_PREP_MS,
        "payload < 200 KB": prep_r["payload_bytes"] < TARGET_PAYLOAD_BYTES,
    }

    print(f"\n{args.runs} runs each, after {args.warmup} warm-up calls; ms")
    print(f"  {'function':<34}{'p50':>7}{'p95':>7}{'max':>7}{'CPU p50':>9}  output")
    for name, r, output in (
        (
            f"image_prepare_for_model({args.max_side}, q{args.quality})",
            prep_r,
            f"{prep_r['payload_bytes'] / 1024:.1f} KB JPEG "
            f"{model_image.width}x{model_image.height}, "
            f"data URL {prep_r['data_url_chars'] / 1024:.1f} KB",
        ),
        (
            "photo_process (upload intake)",
            intake_r,
            f"display {intake_r['display_bytes'] / 1024:.0f} KB "
            f"{processed.width}x{processed.height}, "
            f"thumb {intake_r['thumbnail_bytes'] / 1024:.0f} KB",
        ),
    ):
        w = r["wall_ms"]
        print(
            f"  {name:<34}{w['p50']:>7.1f}{w['p95']:>7.1f}{w['max']:>7.1f}"
            f"{r['cpu_ms']['p50']:>9.1f}  {output}"
        )
    print("\nTargets")
    for name, ok in targets.items():
        print(f"  {'MET ' if ok else 'MISSED'}  {name}")

    payload = {
        "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "photo": {
            "size": list(args.size),
            "bytes": len(data),
            "orientation": args.orientation,
            "icc_profile": not args.no_icc,
            "seed": args.seed,
        },
        "max_side": args.max_side,
        "quality": args.quality,
        "python": platform.python_version(),
        "pillow": Image.__version__,
        "cpus": os.cpu_count(),
        "load_average": load,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "targets": targets,
        "results": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / (f"image_prep-{args.label}.json" if args.label else "image_prep.json")
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nWrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
