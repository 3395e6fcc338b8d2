-- The scrapers' local schema as it stands today (the Rescue Dog Aggregator's schema file of
-- 2026-08): four tables, no animal_images (dropped in 2026-02), animals with 40 columns,
-- named and inline CHECKs, 39 indexes among them nine partial ones on animals, GIN indexes on
-- JSONB columns, unique keys on both slug columns. The seed-era shape is source_schema.sql.
--
-- The tests build both a local database and an "adopted" Railway (made by another tool, as
-- Alembic made production) from this file.

CREATE TABLE IF NOT EXISTS organizations (
    id               SERIAL PRIMARY KEY,
    name             VARCHAR(255) NOT NULL,
    website_url      TEXT NOT NULL,
    description      TEXT,
    country          VARCHAR(100),
    city             VARCHAR(100),
    logo_url         TEXT,
    active           BOOLEAN DEFAULT TRUE,
    created_at       TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at       TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    social_media     JSONB DEFAULT '{}',
    config_id        VARCHAR(50) UNIQUE,
    last_config_sync TIMESTAMP,
    ships_to         JSONB DEFAULT '[]',
    service_regions  JSONB DEFAULT '[]',
    total_dogs       INTEGER DEFAULT 0,
    new_this_week    INTEGER DEFAULT 0,
    recent_dogs      JSONB DEFAULT '[]',
    established_year INTEGER,
    adoption_fees    JSONB DEFAULT '{}',
    slug             VARCHAR(255) UNIQUE
);

CREATE TABLE IF NOT EXISTS animals (
    id                          SERIAL PRIMARY KEY,
    name                        VARCHAR(255) NOT NULL,
    organization_id             INTEGER NOT NULL REFERENCES organizations(id),
    animal_type                 VARCHAR(50) NOT NULL DEFAULT 'dog',
    external_id                 VARCHAR(255),
    primary_image_url           TEXT,
    adoption_url                TEXT NOT NULL,
    status                      VARCHAR(50) DEFAULT 'available',
    breed                       VARCHAR(255),
    breed_group                 VARCHAR(100),
    standardized_breed          VARCHAR(100),
    age_text                    VARCHAR(100),
    age_min_months              INTEGER,
    age_max_months              INTEGER,
    sex                         VARCHAR(50),
    size                        VARCHAR(50),
    standardized_size           VARCHAR(50),
    language                    VARCHAR(10) DEFAULT 'en',
    properties                  JSONB,
    created_at                  TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at                  TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_scraped_at             TIMESTAMP,
    last_seen_at                TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    consecutive_scrapes_missing INTEGER DEFAULT 0,
    availability_confidence     VARCHAR(10) DEFAULT 'high'
                                CHECK (availability_confidence IN ('high', 'medium', 'low')),
    original_image_url          TEXT,
    slug                        VARCHAR(255) UNIQUE,
    active                      BOOLEAN NOT NULL DEFAULT TRUE,
    adoption_check_data         JSONB,
    adoption_checked_at         TIMESTAMP,
    dog_profiler_data           JSONB DEFAULT '{}',
    translations                JSONB,
    llm_processing_flags        JSONB,
    breed_confidence            NUMERIC(3,2),
    breed_type                  VARCHAR(50),
    primary_breed               VARCHAR(255),
    secondary_breed             VARCHAR(255),
    breed_slug                  VARCHAR(255),
    blur_data_url               TEXT,
    breed_raw                   VARCHAR(255),
    CONSTRAINT animals_status_check
        CHECK (status IN ('available', 'unknown', 'adopted', 'reserved')),
    UNIQUE (external_id, organization_id)
);

CREATE TABLE IF NOT EXISTS scrape_logs (
    id                 SERIAL PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id),
    started_at         TIMESTAMP NOT NULL,
    completed_at       TIMESTAMP,
    dogs_found         INTEGER,
    dogs_added         INTEGER,
    dogs_updated       INTEGER,
    status             VARCHAR(50) NOT NULL,
    error_message      TEXT,
    created_at         TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    detailed_metrics   JSONB,
    duration_seconds   NUMERIC(10,2),
    data_quality_score NUMERIC(3,2) CHECK (data_quality_score >= 0 AND data_quality_score <= 1)
);

CREATE TABLE IF NOT EXISTS service_regions (
    id              SERIAL PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    country         VARCHAR(100) NOT NULL,
    active          BOOLEAN DEFAULT TRUE,
    notes           TEXT,
    created_at      TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at      TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    region          VARCHAR(100),
    UNIQUE (organization_id, country)
);

CREATE INDEX IF NOT EXISTS idx_organizations_active_country ON organizations (active, country);
CREATE INDEX IF NOT EXISTS idx_organizations_config_id ON organizations (config_id);
CREATE INDEX IF NOT EXISTS idx_organizations_social_media ON organizations USING gin (social_media);
CREATE INDEX IF NOT EXISTS idx_organizations_ships_to ON organizations USING gin (ships_to);
CREATE INDEX IF NOT EXISTS idx_organizations_service_regions
    ON organizations USING gin (service_regions);

CREATE INDEX IF NOT EXISTS idx_animals_organization ON animals (organization_id);
CREATE INDEX IF NOT EXISTS idx_animals_status ON animals (status);
CREATE INDEX IF NOT EXISTS idx_animals_breed ON animals (breed);
CREATE INDEX IF NOT EXISTS idx_animals_properties ON animals USING gin (properties);
CREATE INDEX IF NOT EXISTS idx_animals_name_gin ON animals USING gin (to_tsvector('english', name));
CREATE INDEX IF NOT EXISTS idx_animals_last_seen_at ON animals (last_seen_at);
CREATE INDEX IF NOT EXISTS idx_animals_standardized_breed ON animals (standardized_breed);
CREATE INDEX IF NOT EXISTS idx_animals_breed_slug ON animals (breed_slug);
CREATE INDEX IF NOT EXISTS idx_animals_dog_profiler_data ON animals USING gin (dog_profiler_data);
CREATE INDEX IF NOT EXISTS idx_animals_translations ON animals USING gin (translations);
CREATE INDEX IF NOT EXISTS idx_animals_external_id ON animals (external_id);
CREATE INDEX IF NOT EXISTS idx_animals_active ON animals (active);
-- The site's listing queries: partial indexes over the available animals.
CREATE INDEX IF NOT EXISTS idx_animals_available_created
    ON animals (created_at DESC) WHERE status = 'available';
CREATE INDEX IF NOT EXISTS idx_animals_available_org
    ON animals (organization_id, created_at DESC) WHERE status = 'available';
CREATE INDEX IF NOT EXISTS idx_animals_available_breed
    ON animals (standardized_breed) WHERE status = 'available';
CREATE INDEX IF NOT EXISTS idx_animals_available_size
    ON animals (standardized_size) WHERE status = 'available';
CREATE INDEX IF NOT EXISTS idx_animals_available_age
    ON animals (age_min_months, age_max_months) WHERE status = 'available';
CREATE INDEX IF NOT EXISTS idx_animals_available_sex
    ON animals (sex) WHERE status = 'available';
CREATE INDEX IF NOT EXISTS idx_animals_available_slug
    ON animals (slug) WHERE status = 'available' AND slug IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_animals_available_confidence
    ON animals (availability_confidence, last_seen_at DESC) WHERE status = 'available';
CREATE INDEX IF NOT EXISTS idx_animals_profiled
    ON animals (id) WHERE status = 'available' AND dog_profiler_data IS NOT NULL;

CREATE INDEX IF NOT EXISTS idx_scrape_logs_metrics ON scrape_logs USING gin (detailed_metrics);
CREATE INDEX IF NOT EXISTS idx_scrape_logs_org_started
    ON scrape_logs (organization_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_scrape_logs_quality ON scrape_logs (data_quality_score);

CREATE INDEX IF NOT EXISTS idx_service_regions_org ON service_regions (organization_id);
