"""Realistic sample data for the five tables, for the demo, the tests and the benchmark.

Generated from a seed, so the same call always yields the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

from django.db import connections

from railway_sync.pg.sql import quote_name

SOURCE_SCHEMA = Path(__file__).parent / "sql" / "source_schema.sql"
# The scrapers' schema as it stands today: four tables, animals with 40 columns.
TODAY_SCHEMA = Path(__file__).parent / "sql" / "today_schema.sql"
TODAY_TABLES = ("organizations", "animals", "scrape_logs", "service_regions")
# animals.source_last_updated, dropped since the seed schema
_SOURCE_LAST_UPDATED = 22

COUNTRIES = ["GB", "DE", "NL", "IE", "FR", "ES", "IT", "SE", "DK", "BE", "AT", "PL", "CZ", "RO"]
BREEDS = [
    ("Labrador Retriever", "Sporting"),
    ("German Shepherd", "Herding"),
    ("Podenco", "Hound"),
    ("Galgo Español", "Hound"),
    ("Jack Russell Terrier", "Terrier"),
    ("Staffordshire Bull Terrier", "Terrier"),
    ("Mixed Breed", "Mixed"),
    ("Beagle", "Hound"),
    ("Border Collie", "Herding"),
    ("Chihuahua", "Toy"),
]
NAMES = [
    "Luna",
    "Max",
    "Bella",
    "Rocky",
    "Nala",
    "Toby",
    "Kira",
    "Bruno",
    "Mia",
    "Zeus",
    "Lola",
    "Otto",
    "Frida",
    "Pepe",
    "Canela",
    "Brisa",
    "Čapek",
    "Zoë",
    "Søren",
    "Müller",
]
STATUSES = ["available", "available", "available", "adopted", "reserved"]
WORDS = [
    "friendly",
    "calm",
    "playful",
    "shy",
    "loves",
    "walks",
    "good",
    "with",
    "cats",
    "children",
    "garden",
    "energetic",
    "house-trained",
    "gentle",
    "curious",
    "cuddly",
    "🐕",
    "❤️",
    "rescued",
    "from",
    "the",
    "street",
]


def create_source_schema(alias: str) -> None:
    """Create the scrapers' five tables on ``alias`` (the demo's stand-in local database)."""
    with connections[alias].cursor() as cursor:
        cursor.execute(SOURCE_SCHEMA.read_text())


def create_today_schema(alias: str) -> None:
    """Create the scrapers' four tables of today on ``alias``."""
    with connections[alias].cursor() as cursor:
        cursor.execute(TODAY_SCHEMA.read_text())


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _properties(rng: random.Random) -> dict[str, object]:
    target = rng.randint(500, 5000)
    properties: dict = {"source": "scraper", "vaccinated": rng.random() < 0.8}
    index = 0
    while len(json.dumps(properties)) < target:
        properties[f"detail_{index}"] = _text(rng, rng.randint(3, 20))
        index += 1
    return properties


def generate(
    *,
    organizations: int = 8,
    animals: int = 850,
    images: int = 240,
    scrape_logs: int = 320,
    service_regions: int = 110,
    seed: int = 7,
) -> dict[str, list[tuple]]:
    """Rows for each table, as tuples in the source schema's column order."""
    rng = random.Random(seed)
    base = dt.datetime(2025, 1, 1, 8, 0, 0)
    rows: dict[str, list[tuple]] = {}
    rows["organizations"] = [
        (
            i,
            f"Rescue Org {i} – Hunde & Amigos",
            f"https://rescue{i}.example.org",
            _text(rng, 30),
            rng.choice(COUNTRIES),
            f"City {i}",
            f"https://rescue{i}.example.org/logo.png",
            True,
            base + dt.timedelta(days=i),
            base + dt.timedelta(days=i, hours=3),
            json.dumps({"facebook": f"https://facebook.com/rescue{i}"}),
            f"org-{i}",
            base + dt.timedelta(days=30),
            json.dumps(rng.sample(COUNTRIES, 3)),
            json.dumps(rng.sample(COUNTRIES, 2)),
            rng.randint(10, 200),
            rng.randint(0, 20),
            json.dumps([{"name": rng.choice(NAMES)}]),
            rng.randint(1990, 2022),
            json.dumps({"amount": rng.randint(100, 400), "currency": "EUR"}),
            f"rescue-org-{i}",
        )
        for i in range(1, organizations + 1)
    ]
    rows["animals"] = []
    for i in range(1, animals + 1):
        breed, group = rng.choice(BREEDS)
        seen = base + dt.timedelta(minutes=i * 7, microseconds=rng.randint(0, 999_999))
        rows["animals"].append(
            (
                i,
                f"{rng.choice(NAMES)} {i}",
                rng.randint(1, organizations),
                "dog",
                f"ext-{i}",
                f"https://img.example.org/{i}.jpg",
                f"https://rescue.example.org/adopt/{i}",
                rng.choice(STATUSES),
                breed,
                group,
                breed,
                f"{rng.randint(1, 12)} years",
                rng.randint(1, 60),
                rng.randint(60, 150),
                rng.choice(["male", "female"]),
                rng.choice(["small", "medium", "large"]),
                rng.choice(["S", "M", "L"]),
                rng.choice(["en", "de", "es"]),
                json.dumps(_properties(rng), ensure_ascii=False),
                seen,
                seen,
                seen,
                None if i % 5 == 0 else seen,
                seen,
                rng.randint(0, 3),
                rng.choice(["high", "medium", "low"]),
                f"https://orig.example.org/{i}.jpg",
                f"dog-{i}",
                rng.random() < 0.9,
            )
        )
    rows["animal_images"] = [
        (
            i,
            rng.randint(1, animals),
            f"https://img.example.org/{i}-extra.jpg",
            i % 4 == 0,
            base + dt.timedelta(hours=i),
            None if i % 3 else f"https://orig.example.org/{i}.jpg",
        )
        for i in range(1, images + 1)
    ]
    rows["scrape_logs"] = []
    for i in range(1, scrape_logs + 1):
        started = base + dt.timedelta(hours=i * 6)
        rows["scrape_logs"].append(
            (
                i,
                rng.randint(1, organizations),
                started,
                started + dt.timedelta(minutes=3),
                rng.randint(10, 90),
                rng.randint(0, 5),
                rng.randint(0, 40),
                rng.choice(["success", "success", "warning", "failure"]),
                None if i % 7 else "Timeout while fetching page 3",
                started,
                json.dumps({f"metric_{k}": rng.randint(0, 999) for k in range(20)}),
                Decimal(rng.randint(100, 99999)) / 100,
                Decimal(rng.randint(50, 100)) / 100,
            )
        )
    pairs = [(org, country) for org in range(1, organizations + 1) for country in COUNTRIES]
    rows["service_regions"] = [
        (
            i,
            org,
            country,
            True,
            None if i % 4 else "Ships with passport",
            base,
            base + dt.timedelta(days=i),
            f"Region {country}",
        )
        for i, (org, country) in enumerate(pairs[:service_regions], start=1)
    ]
    return rows


def generate_today(
    *,
    organizations: int = 8,
    animals: int = 850,
    scrape_logs: int = 320,
    service_regions: int = 110,
    seed: int = 7,
) -> dict[str, list[tuple]]:
    """Rows for today's four tables (``TODAY_SCHEMA``), in its column order: the seed rows,
    animals without ``source_last_updated`` and with the enrichment, breed-detail and
    placeholder columns the scrapers added since."""
    rows = generate(
        organizations=organizations,
        animals=animals,
        images=0,
        scrape_logs=scrape_logs,
        service_regions=service_regions,
        seed=seed,
    )
    del rows["animal_images"]
    rng = random.Random(seed + 1)
    today = []
    for row in rows["animals"]:
        i, breed, seen = row[0], row[8], row[21]
        checked = i % 3 == 0
        today.append(
            row[:_SOURCE_LAST_UPDATED]
            + row[_SOURCE_LAST_UPDATED + 1 :]
            + (
                json.dumps({"is_available": True, "checked_by": "crawler"}) if checked else None,
                seen if checked else None,
                json.dumps({"tagline": _text(rng, 6), "energy": rng.choice(WORDS)}),
                json.dumps({"de": {"description": _text(rng, 8)}}) if i % 4 == 0 else None,
                json.dumps({"profiled": True}) if i % 2 else None,
                Decimal(rng.randint(0, 100)) / 100,
                rng.choice(["purebred", "mixed", "crossbreed"]),
                breed,
                None if i % 3 else rng.choice(BREEDS)[0],
                breed.lower().replace(" ", "-"),
                None if i % 6 == 0 else f"data:image/jpeg;base64,{i:08x}",
                f"{breed} x" if i % 5 == 0 else breed,
            )
        )
    rows["animals"] = today
    return rows


def insert(alias: str, rows: dict[str, list[tuple]]) -> dict[str, int]:
    """Insert generated rows on ``alias`` and move each id sequence past them."""
    counts = {}
    with connections[alias].cursor() as cursor:
        for table, table_rows in rows.items():
            if not table_rows:
                counts[table] = 0
                continue
            placeholders = ", ".join(["%s"] * len(table_rows[0]))
            cursor.executemany(
                f"INSERT INTO {quote_name(table)} VALUES ({placeholders})", table_rows
            )
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"(SELECT COALESCE(max(id), 1) FROM {quote_name(table)}))",
                [quote_name(table)],
            )
            counts[table] = len(table_rows)
    return counts
