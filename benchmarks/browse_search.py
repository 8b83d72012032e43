"""Browse and search speed at scale: server time of whole requests, in-process.

What it measures
    For each page below, the wall time of `django.test.Client.get()` (URL routing, middleware,
    view, ORM queries, template or serializer rendering; no network, no browser) over
    --requests requests after a short warm-up, as p50 and p95, plus the SQL queries per request
    (CaptureQueriesContext) and the time spent in the database driver. Pages are measured
    round-robin so background load hits them alike, and each request varies its parameters
    (category, word, price range, listing id) so the numbers are not one cached plan or page.

        browse, newest             /                                   page 1, newest first
        browse, page 50            /?page=50
        category                   /?category=<slug>
        price range, by price      /?min_price=..&max_price=..&sort=price_asc|price_desc
        search, common word        /?q=<word in ~10-45% of listings>
        search, item noun          /?q=<"sofa", "camera", ...: each in ~0.5-1% of listings>
        search, rare word          /?q=<word in ~0.1% of listings>
        search + category          /?q=<item noun>&category=<its category>
        detail                     /listings/<id>/
        API list                   /api/listings/?page=<1-5>
        API search                 /api/listings/?q=<common word>

Its own database, never the project's
    sqlite    a fresh SQLite file in a temporary directory, removed afterwards;
    postgres  the database `trova_bench` on postgres://postgres@127.0.0.1:5432, dropped and
              created by the script (and dropped again at the end unless --keep-db).
    Migrations run, then N listings are bulk-inserted: a few hundred sellers, titles and
    descriptions from word lists over every category of marketplace.taxonomy, prices
    log-spread over 1-5000 EUR, created_at spread over the last year, ~90% active / 10% sold,
    and one small shared photo file. PostgreSQL then gets VACUUM ANALYZE (what autovacuum would
    have done after a bulk load). After measuring, EXPLAIN (ANALYZE, BUFFERS) is printed for
    every listings query (count and page) of browse-newest, the searches and category-newest.

Run (from the repository root)
    .venv/bin/python benchmarks/browse_search.py --db sqlite
    .venv/bin/python benchmarks/browse_search.py --db postgres --listings 100000 --requests 200
    # keep trova_bench for ad-hoc EXPLAIN / CREATE INDEX experiments, then measure it again:
    .venv/bin/python benchmarks/browse_search.py --db postgres --keep-db
    .venv/bin/python benchmarks/browse_search.py --db postgres --reuse-db --keep-db

Results: a table on stdout and benchmarks/results/browse_search-<db>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from common import percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
PG_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
PG_BENCH_DB = "trova_bench"
TARGET_P95_MS = 50.0  # PostgreSQL, browse and search pages, 100k listings
PHOTO_NAME = "listings/bench.jpg"
THUMBNAIL_NAME = "listings/thumbs/bench.jpg"
SELLERS = 300
BATCH_SIZE = 5_000
WARMUP_ROUNDS = 10

# --- Synthetic catalogue -----------------------------------------------------------------------
# Per category: item nouns and brands ("" = no brand). Every taxonomy category must be here.
VOCABULARY: dict[str, tuple[list[str], list[str]]] = {
    "electronics": (
        ["headphones", "speaker", "camera", "lens", "turntable", "amplifier", "television",
         "projector", "drone", "soundbar", "receiver", "e-reader"],
        ["Sony", "Bose", "JBL", "Canon", "Nikon", "Samsung", "LG", "Philips", "GoPro", "DJI",
         "Marshall", ""],
    ),
    "phones-tablets": (
        ["smartphone", "tablet", "phone case", "charger", "smartwatch", "earbuds", "stylus",
         "power bank"],
        ["Apple", "Samsung", "Google", "Xiaomi", "OnePlus", "Huawei", "Motorola", "Fairphone"],
    ),
    "computers": (
        ["laptop", "monitor", "keyboard", "mouse", "desktop computer", "graphics card", "router",
         "printer", "docking station", "webcam", "SSD drive"],
        ["Dell", "Lenovo", "HP", "Apple", "Asus", "Acer", "Logitech", "Microsoft", "Razer", ""],
    ),
    "home-kitchen": (
        ["coffee machine", "blender", "toaster", "kettle", "stand mixer", "frying pan",
         "dinner set", "vacuum cleaner", "rice cooker", "air fryer", "floor lamp", "rug"],
        ["De'Longhi", "KitchenAid", "Bosch", "Dyson", "Tefal", "Le Creuset", "Nespresso",
         "Siemens", "IKEA", ""],
    ),
    "furniture": (
        ["sofa", "armchair", "dining table", "bookshelf", "wardrobe", "desk", "office chair",
         "bed frame", "chest of drawers", "coffee table", "sideboard", "bar stool"],
        ["IKEA", "Hay", "Vitra", "Muuto", "Ligne Roset", "BoConcept", "Herman Miller", ""],
    ),
    "fashion": (
        ["jacket", "winter coat", "sneakers", "boots", "dress", "jeans", "handbag", "sweater",
         "scarf", "sunglasses", "shirt", "backpack"],
        ["Nike", "Adidas", "Levi's", "Zara", "Patagonia", "The North Face", "Dr. Martens",
         "Ray-Ban", "Mango", ""],
    ),
    "baby-kids": (
        ["stroller", "car seat", "high chair", "crib", "baby carrier", "changing table",
         "playpen", "baby monitor", "kids scooter"],
        ["Bugaboo", "Cybex", "Stokke", "Maxi-Cosi", "Joie", "Chicco", "BabyBjörn", ""],
    ),
    "sports-outdoors": (
        ["tent", "sleeping bag", "hiking boots", "skis", "snowboard", "yoga mat", "dumbbells",
         "treadmill", "tennis racket", "golf clubs", "kayak", "climbing harness"],
        ["Decathlon", "Salomon", "Head", "Wilson", "Black Diamond", "Vaude", "Garmin", ""],
    ),
    "bikes": (
        ["road bike", "mountain bike", "city bike", "e-bike", "cargo bike", "bike helmet",
         "bike lock", "folding bike", "saddle", "bike trailer"],
        ["Canyon", "Trek", "Specialized", "Cube", "Giant", "Brompton", "Gazelle", "Abus", ""],
    ),
    "books-music-film": (
        ["novel", "cookbook", "vinyl record", "box set", "Blu-ray collection", "comic books",
         "acoustic guitar", "digital piano", "violin", "textbook"],
        ["Penguin", "Fender", "Gibson", "Yamaha", "Roland", "Taschen", "Marvel", ""],
    ),
    "toys-games": (
        ["LEGO set", "board game", "jigsaw puzzle", "doll house", "model railway",
         "video game", "game console", "action figures", "plush toy", "remote control car"],
        ["LEGO", "Playmobil", "Ravensburger", "Hasbro", "Nintendo", "PlayStation", "Märklin", ""],
    ),
    "tools-diy": (
        ["cordless drill", "circular saw", "tool box", "ladder", "angle grinder", "jigsaw",
         "workbench", "pressure washer", "lawn mower", "socket set", "orbital sander"],
        ["Bosch", "Makita", "DeWalt", "Metabo", "Festool", "Einhell", "Kärcher", "Ryobi", ""],
    ),
    "other": (
        ["garden furniture", "plant pots", "aquarium", "suitcase", "sewing machine", "art print",
         "wall mirror", "christmas decorations", "camping stove", "picture frames"],
        ["Samsonite", "Singer", "Rimowa", "Brabantia", "", ""],
    ),
}  # fmt: skip
ADJECTIVES = [
    "vintage", "compact", "wireless", "portable", "classic", "modern", "foldable", "lightweight",
    "professional", "retro", "electric", "large", "small", "premium", "handmade", "waterproof",
]  # fmt: skip
COLORS = [
    "black", "white", "grey", "silver", "red", "blue", "green", "beige", "brown", "pink",
    "yellow", "navy", "orange", "gold",
]  # fmt: skip
CITIES = ["Berlin", "Munich", "Hamburg", "Cologne", "Vienna", "Zurich", "Leipzig", "Dresden"]
USAGE = [
    "barely used", "used a handful of times", "used daily for a year", "kept in storage",
    "well looked after",
]  # fmt: skip
REASONS = ["I'm moving abroad", "I upgraded to a newer model", "I no longer need it"]
# Optional sentences and how often each appears; the common search words come from these.
FILLER_SENTENCES: list[tuple[float, str]] = [
    (0.40, "Works perfectly."),
    (0.25, "Comes with the original box and all accessories."),
    (0.20, "Small scratches on the side, see photo."),
    (0.45, "Pick-up in {city} or shipping at the buyer's cost."),
    (0.30, "Price is negotiable."),
    (0.15, "Cash or bank transfer only."),
    (0.30, "From a smoke-free and pet-free home."),
    (0.10, "Receipt and warranty card included."),
    (0.35, "Selling because {reason}."),
    (0.20, "Dimensions: {width} x {height} cm."),
]
COMMON_WORDS = ["shipping", "negotiable", "original", "smoke", "scratches", "perfectly", "cash"]
# Each listing mentions one of these with probability RARE_SHARE: ~0.1% of listings per word.
RARE_WORDS = [
    "walnut", "mahogany", "teak", "titanium", "bamboo", "corduroy", "suede", "velvet", "chrome",
    "copper", "brass", "terracotta", "marble", "obsidian", "turquoise", "burgundy", "ochre",
    "sapphire", "emerald", "graphite", "pewter", "rattan", "wicker", "linen", "tweed",
    "cashmere", "alpaca", "merino", "cork", "granite", "slate", "onyx", "amber", "lacquered",
    "enamel", "porcelain", "ceramic", "acrylic", "kevlar", "aluminium", "bronze", "zinc",
    "cobalt", "indigo", "saffron", "mustard", "olive", "pine", "oak", "cherrywood",
]  # fmt: skip
RARE_SHARE = 0.05
FIRST_NAMES = ["Anna", "Marco", "Léa", "Jonas", "Sofia", "Luca", "Emma", "Noah", "Mia", "Ben"]
LAST_NAMES = ["Becker", "Rossi", "Martin", "Schmidt", "Novak", "Weber", "Costa", "Meyer"]


# --- Environment and database ------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--keep-db", action="store_true", help=f"postgres: leave {PG_BENCH_DB} in place"
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help=f"postgres: measure the existing {PG_BENCH_DB} as it is (no load, no VACUUM)",
    )
    return parser.parse_args()


def configure_environment(database_url: str, media_root: Path) -> None:
    """Settings come from the environment only, so this must run before django.setup()."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DATABASE_URL=database_url,
        SECRET_KEY="benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DEBUG="false",
        MEDIA_ROOT=str(media_root),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",  # the test client speaks plain HTTP
        STATIC_MANIFEST="false",  # no collectstatic needed for {% static %}
        REDIS_URL="",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    # WhiteNoise warns that STATIC_ROOT was never collected; {% static %} does not need it.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def pg_recreate() -> None:
    pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {PG_BENCH_DB}")


def pg_drop() -> None:
    pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")


def progress(message: str, done: bool = False) -> None:
    """A self-overwriting status line on a terminal; silent when the output is a file."""
    if sys.stdout.isatty():
        print("\n" if done else f"\r  {message}", end="", flush=True)


# --- Loading -----------------------------------------------------------------------------------
def write_shared_photo(media_root: Path) -> None:
    """One small JPEG that every listing points at (photo and thumbnail)."""
    from PIL import Image

    for name, size in ((PHOTO_NAME, (800, 600)), (THUMBNAIL_NAME, (400, 300))):
        path = media_root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (200, 180, 150)).save(path, "JPEG", quality=70)


def create_sellers(rng: random.Random) -> list:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    users = [
        user_model(
            username=f"seller{n:04d}",
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            email=f"seller{n:04d}@bench.trova.example",
            password="!unusable",  # noqa: S106 - nobody logs in
        )
        for n in range(SELLERS)
    ]
    user_model.objects.bulk_create(users)
    return list(user_model.objects.order_by("pk"))


def log_uniform_price(rng: random.Random) -> Decimal:
    value = math.exp(rng.uniform(0, math.log(5000)))
    return Decimal(round(value)) if value >= 20 else Decimal(f"{value:.2f}")


def make_text(rng: random.Random, category: str, condition_label: str) -> tuple[str, ...]:
    """(title, description, brand, color) for one listing."""
    nouns, brands = VOCABULARY[category]
    noun, brand, color = rng.choice(nouns), rng.choice(brands), rng.choice(COLORS)
    adjective = rng.choice(ADJECTIVES)
    title = " ".join(part for part in (brand, adjective, noun) if part)
    if rng.random() < 0.3:
        title += rng.choice([" - like new", " with box", " + accessories", " (2021)", ", set of 2"])
    sentences = [
        " ".join(part for part in (adjective.capitalize(), brand, noun) if part)
        + f" in {condition_label.lower()} condition.",
        f"Bought in {rng.randint(2012, 2025)}, {rng.choice(USAGE)}.",
        f"Colour: {color}.",
    ]
    for share, sentence in FILLER_SENTENCES:
        if rng.random() < share:
            sentences.append(
                sentence.format(
                    city=rng.choice(CITIES),
                    reason=rng.choice(REASONS),
                    width=rng.randint(20, 200),
                    height=rng.randint(20, 200),
                )
            )
    if rng.random() < RARE_SHARE:
        sentences.append(f"The finish is {rng.choice(RARE_WORDS)}.")
    return title[:120], " ".join(sentences), brand, color


def timestamps_over_last_year(rng: random.Random, count: int) -> list[datetime]:
    """Sorted, so ids grow with created_at as they do on a live site."""
    from django.utils import timezone

    now = timezone.now()
    seconds = sorted(rng.uniform(0, 365 * 86400) for _ in range(count))
    return [now - timedelta(seconds=365 * 86400 - s) for s in seconds]


@contextmanager
def explicit_timestamps(model):
    """Let bulk_create keep our created_at/updated_at instead of auto_now(_add)."""
    created, updated = model._meta.get_field("created_at"), model._meta.get_field("updated_at")
    saved = created.auto_now_add, updated.auto_now
    created.auto_now_add = updated.auto_now = False
    try:
        yield
    finally:
        created.auto_now_add, updated.auto_now = saved


def build_listing(rng: random.Random, seller, created_at: datetime):
    from django.utils import timezone

    from listings.models import Listing
    from marketplace.taxonomy import Category, Condition

    category = rng.choice(Category.values)
    condition = rng.choice(Condition.choices)
    title, description, brand, color = make_text(rng, category, condition[1])
    sold = rng.random() < 0.10
    sold_at = min(created_at + timedelta(days=rng.uniform(0.5, 40)), timezone.now())
    return Listing(
        seller=seller,
        title=title,
        description=description,
        category=category,
        condition=condition[0],
        brand=brand,
        color=color,
        price_eur=log_uniform_price(rng),
        photo=PHOTO_NAME,
        thumbnail=THUMBNAIL_NAME,
        status=Listing.Status.SOLD if sold else Listing.Status.ACTIVE,
        created_at=created_at,
        updated_at=sold_at if sold else created_at,
        sold_at=sold_at if sold else None,
    )


def load_listings(count: int, rng: random.Random) -> None:
    from django.db import transaction

    from listings.models import Listing
    from marketplace.taxonomy import Category

    if missing := set(Category.values) - set(VOCABULARY):
        raise SystemExit(f"VOCABULARY lacks categories {sorted(missing)}")
    sellers = create_sellers(rng)
    stamps = timestamps_over_last_year(rng, count)
    with explicit_timestamps(Listing), transaction.atomic():
        for start in range(0, count, BATCH_SIZE):
            batch = [
                build_listing(rng, rng.choice(sellers), created_at)
                for created_at in stamps[start : start + BATCH_SIZE]
            ]
            Listing.objects.bulk_create(batch)
            progress(f"loaded {start + len(batch):,}/{count:,} listings")
    progress("", done=True)


def prepare_database(args: argparse.Namespace, rng: random.Random) -> float:
    """Migrate and load; returns the seconds it took."""
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    load_listings(args.listings, rng)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


# --- Scenarios ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "browse" and "search" pages have the p95 target; the others are reported
    url: Callable[[random.Random], str]


def build_scenarios(listing_ids: list[int]) -> list[Scenario]:
    from marketplace.taxonomy import Category

    categories = Category.values
    # One-word item nouns ("sofa", "camera"): each in ~0.5-1% of listings, what buyers type.
    item_nouns = sorted(
        {noun for nouns, _ in VOCABULARY.values() for noun in nouns if " " not in noun}
    )

    def price_range(rng: random.Random) -> str:
        low = rng.choice([5, 10, 20, 50, 100, 200, 500])
        sort = rng.choice(["price_asc", "price_desc"])
        return f"/?min_price={low}&max_price={low * rng.choice([2, 3, 5])}&sort={sort}"

    def search_in_category(rng: random.Random) -> str:
        category = rng.choice(categories)
        noun = rng.choice(VOCABULARY[category][0]).split()[-1]
        return f"/?q={noun}&category={category}"

    return [
        Scenario("browse, newest", "browse", lambda rng: "/"),
        Scenario("browse, page 50", "browse", lambda rng: "/?page=50"),
        Scenario("category", "browse", lambda rng: f"/?category={rng.choice(categories)}"),
        Scenario("price range, by price", "browse", price_range),
        Scenario("search, common word", "search", lambda rng: f"/?q={rng.choice(COMMON_WORDS)}"),
        Scenario("search, item noun", "search", lambda rng: f"/?q={rng.choice(item_nouns)}"),
        Scenario("search, rare word", "search", lambda rng: f"/?q={rng.choice(RARE_WORDS)}"),
        Scenario("search + category", "search", search_in_category),
        Scenario("detail", "detail", lambda rng: f"/listings/{rng.choice(listing_ids)}/"),
        Scenario("API list", "api", lambda rng: f"/api/listings/?page={rng.randint(1, 5)}"),
        Scenario("API search", "api", lambda rng: f"/api/listings/?q={rng.choice(COMMON_WORDS)}"),
    ]


# --- Measuring ---------------------------------------------------------------------------------
COUNT_IN_HTML = re.compile(rb'id="result-count">([\d,]+)\+? listing')  # "10,000+" if capped


def matched_rows(response) -> int | None:
    """The paginator's count as the page shows it (HTML) or returns it (API)."""
    if response["Content-Type"].startswith("application/json"):
        return response.json().get("count")
    found = COUNT_IN_HTML.search(response.content)
    return int(found.group(1).replace(b",", b"")) if found else None


class QueryTimer:
    """Execute wrapper: wall time spent inside the database driver, at full resolution."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


@dataclass
class Samples:
    """What one page's measured requests produced."""

    times_ms: list[float] = field(default_factory=list)
    db_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    last_url: str = ""


def timed_get(client, url: str, samples: Samples) -> None:
    """One request: wall time around client.get, its queries and their time in the driver."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timer = QueryTimer()
    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(timer):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    samples.times_ms.append(elapsed * 1000)
    samples.db_ms.append(timer.seconds * 1000)
    samples.queries.append(len(queries))
    samples.last_url = url
    if (count := matched_rows(response)) is not None:
        samples.rows.append(count)


def measure(client, scenarios: list[Scenario], requests: int, rng: random.Random) -> list[dict]:
    """Round-robin over the pages, so background load and GC pauses hit every page alike."""
    for _ in range(WARMUP_ROUNDS):
        for scenario in scenarios:
            client.get(scenario.url(rng))
    samples = {scenario.name: Samples() for scenario in scenarios}
    for round_number in range(1, requests + 1):
        for scenario in scenarios:
            timed_get(client, scenario.url(rng), samples[scenario.name])
        if round_number % 10 == 0:
            progress(f"measured {round_number}/{requests} rounds of {len(scenarios)} pages")
    progress("", done=True)
    return [summarize(scenario, samples[scenario.name]) for scenario in scenarios]


def summarize(scenario: Scenario, samples: Samples) -> dict:
    return {
        "name": scenario.name,
        "kind": scenario.kind,
        "example_url": samples.last_url,
        "requests": len(samples.times_ms),
        "p50_ms": round(statistics.median(samples.times_ms), 2),
        "p95_ms": round(percentile(samples.times_ms, 95), 2),
        "max_ms": round(max(samples.times_ms), 2),
        "db_p50_ms": round(statistics.median(samples.db_ms), 2),
        "db_p95_ms": round(percentile(samples.db_ms, 95), 2),
        "queries": max(samples.queries),
        "rows_median": int(statistics.median(samples.rows)) if samples.rows else None,
    }


def meets_target(result: dict, vendor: str) -> str:
    if vendor != "postgresql" or result["kind"] not in ("browse", "search"):
        return ""
    return "ok" if result["p95_ms"] < TARGET_P95_MS else "MISS"


# --- EXPLAIN (PostgreSQL) ----------------------------------------------------------------------
def explain_listing_queries(client, title: str, url: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every listings query the page really ran (count and page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    print(f"\n=== EXPLAIN: {title}  ({url})")
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            if '"listings_listing"' not in query["sql"]:
                continue
            print(f"\n-- {query['sql'][:300]}{'...' if len(query['sql']) > 300 else ''}")
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            for (line,) in cursor.fetchall():
                print(f"   {line}")


def explain_pages(client) -> None:
    explain_listing_queries(client, "browse, newest", "/")
    explain_listing_queries(client, "search, common word", "/?q=shipping")
    explain_listing_queries(client, "search, item noun", "/?q=sofa")
    explain_listing_queries(client, "search, rare word", "/?q=walnut")
    explain_listing_queries(client, "search + category", "/?q=bike&category=bikes")
    explain_listing_queries(client, "category, newest", "/?category=furniture")


# --- Output ------------------------------------------------------------------------------------
COLUMNS = [
    ("page", "name"),
    ("p50 ms", "p50_ms"),
    ("p95 ms", "p95_ms"),
    ("max ms", "max_ms"),
    ("db p50 ms", "db_p50_ms"),
    ("db p95 ms", "db_p95_ms"),
    ("queries", "queries"),
    ("rows", "rows_median"),
    ("p95<50", "target"),
]


def print_table(title: str, results: list[dict]) -> None:
    cells = [[_cell(r.get(key)) for _, key in COLUMNS] for r in results]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(row[i]) for row in cells)) for i, (h, _) in enumerate(COLUMNS)]
        print(f"\n{title}")
        print("  ".join(h.ljust(w) for (h, _), w in zip(COLUMNS, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for row in cells:
            print(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
        return
    table = Table(title=title)
    for index, (header, _) in enumerate(COLUMNS):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in cells:
        table.add_row(*row)
    # Not a terminal (a log file): rich would wrap at 80 columns; this table needs ~110.
    Console(width=None if sys.stdout.isatty() else 120).print(table)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def write_json(db: str, payload: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"browse_search-{db}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def database_version() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


# --- Main --------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from listings.models import Listing

    rng = random.Random(args.seed)
    load_seconds = None
    if not args.reuse_db:
        print(f"Loading {args.listings:,} listings into {connection.vendor} ...")
        load_seconds = prepare_database(args, rng)
        print(f"  done in {load_seconds:.0f} s")
    listing_ids = list(Listing.objects.values_list("pk", flat=True))

    load_before = os.getloadavg()[0]
    if load_before > 1.0:
        print(f"  note: load average {load_before:.1f} before measuring; p95 will be noisy")
    client = Client()
    results = measure(client, build_scenarios(listing_ids), args.requests, rng)
    for result in results:
        result["target"] = meets_target(result, connection.vendor)

    title = f"{database_version()}, {len(listing_ids):,} listings, {args.requests} requests/page"
    print_table(title, results)
    if connection.vendor == "postgresql":
        explain_pages(client)
    return {
        "database": database_version(),
        "listings": len(listing_ids),
        "requests_per_page": args.requests,
        "warmup_rounds": WARMUP_ROUNDS,
        "load_seconds": round(load_seconds, 1) if load_seconds else None,
        "target_p95_ms": TARGET_P95_MS,
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "load_average_1min": {
            "before": round(load_before, 2),
            "after": round(os.getloadavg()[0], 2),
        },
        "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "results": results,
    }


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="trova-bench-"))
    if args.db == "sqlite":
        if args.reuse_db:
            raise SystemExit("--reuse-db works with --db postgres only")
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        if not args.reuse_db:
            pg_recreate()
        database_url = f"{PG_SERVER_URL}/{PG_BENCH_DB}"
    configure_environment(database_url, workdir / "media")
    write_shared_photo(workdir / "media")
    try:
        payload = run(args)
        print(f"\nWrote {write_json(args.db, payload).relative_to(ROOT)}")
    finally:
        from django.db import connections

        connections.close_all()
        if args.db == "postgres" and not args.keep_db:
            pg_drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
