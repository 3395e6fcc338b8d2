"""Benchmark data made inside PostgreSQL: rows shaped like the reference schema (animals about
1.4 KB on average), generated at any scale in seconds."""

from __future__ import annotations

from railway_sync.pg import driver

ANIMALS_SQL = """
INSERT INTO animals (id, name, organization_id, animal_type, external_id, primary_image_url,
    adoption_url, status, breed, breed_group, standardized_breed, age_text, age_min_months,
    age_max_months, sex, size, standardized_size, language, properties, created_at, updated_at,
    last_scraped_at, source_last_updated, last_seen_at, consecutive_scrapes_missing,
    availability_confidence, original_image_url, slug, active)
SELECT g, 'Dog ' || g, 1 + g %% %(organizations)s, 'dog', 'ext-' || g,
    'https://img.example.org/' || g || '.jpg', 'https://adopt.example.org/' || g,
    (ARRAY['available', 'adopted', 'reserved'])[1 + g %% 3],
    (ARRAY['Podenco', 'Galgo', 'Mixed Breed', 'Beagle'])[1 + g %% 4], 'Hound', 'Hound',
    (1 + g %% 12) || ' years', g %% 60, 60 + g %% 90, (ARRAY['male', 'female'])[1 + g %% 2],
    'medium', 'M', 'en',
    jsonb_build_object(
        'description', (SELECT string_agg(md5(g::text || '-' || k), ' ')
                        FROM generate_series(1, 8 + g %% 55) k),
        'vaccinated', g %% 2 = 0, 'weight_kg', 5 + g %% 40,
        'character', jsonb_build_array('friendly', 'calm', 'loves walks'),
        'source', jsonb_build_object('page', g %% 90, 'scraper', 'v2')),
    '2025-01-01'::timestamp + g * interval '1 second',
    '2025-03-01'::timestamp + g * interval '1 second',
    '2025-06-01'::timestamp + g * interval '1 second', NULL,
    '2025-06-01'::timestamp + g * interval '1 second', g %% 3, 'high',
    'https://orig.example.org/' || g || '.jpg', 'dog-' || g, true
FROM generate_series(%(first)s, %(last)s) g;
"""

ORGANIZATIONS_SQL = """
INSERT INTO organizations (id, name, website_url, description, country, city, active,
    created_at, updated_at, social_media, config_id, ships_to, service_regions, total_dogs,
    adoption_fees, slug)
SELECT g, 'Rescue ' || g, 'https://rescue' || g || '.example.org', repeat('About us. ', 20),
    'DE', 'City ' || g, true, '2025-01-01'::timestamp + g * interval '1 day',
    '2025-02-01'::timestamp + g * interval '1 day',
    jsonb_build_object('facebook', 'https://facebook.com/r' || g), 'org-' || g,
    '["DE", "NL", "GB"]', '["DE"]', g * 10, '{"amount": 250, "currency": "EUR"}', 'rescue-' || g
FROM generate_series(1, %(organizations)s) g;
"""

DATA_SQL = """
INSERT INTO animal_images (id, animal_id, image_url, is_primary, created_at)
SELECT g, 1 + (g * 7) %% %(animals)s, 'https://img.example.org/extra-' || g || '.jpg',
    g %% 4 = 0, '2025-01-01'::timestamp + g * interval '1 minute'
FROM generate_series(1, %(images)s) g;

INSERT INTO scrape_logs (id, organization_id, started_at, completed_at, dogs_found,
    dogs_added, dogs_updated, status, created_at, detailed_metrics, duration_seconds,
    data_quality_score)
SELECT g, 1 + g %% %(organizations)s, '2025-01-01'::timestamp + g * interval '1 hour',
    '2025-01-01'::timestamp + g * interval '1 hour' + interval '3 minutes', 50, 2, 10,
    'success', '2025-01-01'::timestamp + g * interval '1 hour',
    (SELECT jsonb_object_agg('metric_' || k, g * k) FROM generate_series(1, 20) k),
    (g %% 9999) / 100.0, 0.95
FROM generate_series(1, %(scrape_logs)s) g;

INSERT INTO service_regions (id, organization_id, country, active, created_at, updated_at,
    region)
SELECT g, 1 + (g - 1) / 14, 'C' || ((g - 1) %% 14), true, '2025-01-01', '2025-01-02', 'EU'
FROM generate_series(1, %(service_regions)s) g;
"""


def scale(animals: int) -> dict[str, int]:
    """Table sizes for a given number of animals, in the guide's proportions."""
    return {
        "organizations": 20,
        "animals": animals,
        "images": max(animals // 4, 1),
        "scrape_logs": max(animals // 3, 10),
        "service_regions": 140,
    }


def generate(dsn: dict, animals: int) -> dict[str, int]:
    """Fill the five (empty) tables of the database at ``dsn`` and move the sequences."""
    sizes = scale(animals)
    connection = driver.connect(**dsn)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(ORGANIZATIONS_SQL, sizes)
            cursor.execute(ANIMALS_SQL, {**sizes, "first": 1, "last": animals})
            cursor.execute(DATA_SQL, sizes)
            for table in (
                "organizations",
                "animals",
                "animal_images",
                "scrape_logs",
                "service_regions",
            ):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(max(id), 1) FROM {table}))"
                )
    finally:
        connection.close()
    return sizes
