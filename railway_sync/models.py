"""The five synced tables, mapped column for column, and the local record of sync runs.

The synced tables belong to the scrapers on the local database (never altered from here) and
to the ``railway_sync`` migrations on Railway, so their models are unmanaged. There is no
``auto_now``: a sync must carry every timestamp across unchanged.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now


class Organization(models.Model):
    id = models.AutoField(primary_key=True)
    name = models.CharField(max_length=255)
    website_url = models.TextField()
    description = models.TextField(null=True)
    country = models.CharField(max_length=100, null=True)
    city = models.CharField(max_length=100, null=True)
    logo_url = models.TextField(null=True)
    active = models.BooleanField(null=True, db_default=True)
    created_at = models.DateTimeField(null=True, db_default=Now())
    updated_at = models.DateTimeField(null=True, db_default=Now())
    social_media = models.JSONField(null=True, db_default={})
    config_id = models.CharField(max_length=50, null=True, unique=True)
    last_config_sync = models.DateTimeField(null=True)
    ships_to = models.JSONField(null=True, db_default=[])
    service_regions = models.JSONField(null=True, db_default=[])
    total_dogs = models.IntegerField(null=True, db_default=0)
    new_this_week = models.IntegerField(null=True, db_default=0)
    recent_dogs = models.JSONField(null=True, db_default=[])
    established_year = models.IntegerField(null=True)
    adoption_fees = models.JSONField(null=True, db_default={})
    slug = models.CharField(max_length=255, null=True, unique=True)

    class Meta:
        managed = False
        db_table = "organizations"
        ordering = ["id"]
        verbose_name = "local organization"

    def __str__(self) -> str:
        return self.name


class Animal(models.Model):
    id = models.AutoField(primary_key=True)
    name = models.CharField(max_length=255)
    organization = models.ForeignKey(Organization, models.DO_NOTHING, related_name="animals")
    animal_type = models.CharField(max_length=50, db_default="dog")
    external_id = models.CharField(max_length=255, null=True)
    primary_image_url = models.TextField(null=True)
    adoption_url = models.TextField()
    status = models.CharField(max_length=50, null=True, db_default="available")
    breed = models.CharField(max_length=255, null=True)
    breed_group = models.CharField(max_length=100, null=True)
    standardized_breed = models.CharField(max_length=100, null=True)
    age_text = models.CharField(max_length=100, null=True)
    age_min_months = models.IntegerField(null=True)
    age_max_months = models.IntegerField(null=True)
    sex = models.CharField(max_length=50, null=True)
    size = models.CharField(max_length=50, null=True)
    standardized_size = models.CharField(max_length=50, null=True)
    language = models.CharField(max_length=10, null=True, db_default="en")
    properties = models.JSONField(null=True)
    created_at = models.DateTimeField(null=True, db_default=Now())
    updated_at = models.DateTimeField(null=True, db_default=Now())
    last_scraped_at = models.DateTimeField(null=True)
    source_last_updated = models.DateTimeField(null=True)
    last_seen_at = models.DateTimeField(null=True, db_default=Now())
    consecutive_scrapes_missing = models.IntegerField(null=True, db_default=0)
    availability_confidence = models.CharField(max_length=10, null=True, db_default="high")
    original_image_url = models.TextField(null=True)
    slug = models.CharField(max_length=255, null=True, unique=True)
    active = models.BooleanField(db_default=True)

    class Meta:
        managed = False
        db_table = "animals"
        ordering = ["id"]
        verbose_name = "local animal"

    def __str__(self) -> str:
        return self.name


class AnimalImage(models.Model):
    id = models.AutoField(primary_key=True)
    animal = models.ForeignKey(Animal, models.DO_NOTHING, related_name="images")
    image_url = models.TextField()
    is_primary = models.BooleanField(null=True, db_default=False)
    created_at = models.DateTimeField(null=True, db_default=Now())
    original_image_url = models.TextField(null=True)

    class Meta:
        managed = False
        db_table = "animal_images"
        ordering = ["id"]
        verbose_name = "local animal image"

    def __str__(self) -> str:
        return self.image_url


class ScrapeLog(models.Model):
    id = models.AutoField(primary_key=True)
    organization = models.ForeignKey(Organization, models.DO_NOTHING, related_name="scrape_logs")
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True)
    dogs_found = models.IntegerField(null=True)
    dogs_added = models.IntegerField(null=True)
    dogs_updated = models.IntegerField(null=True)
    status = models.CharField(max_length=50)
    error_message = models.TextField(null=True)
    created_at = models.DateTimeField(null=True, db_default=Now())
    detailed_metrics = models.JSONField(null=True)
    duration_seconds = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    data_quality_score = models.DecimalField(max_digits=3, decimal_places=2, null=True)

    class Meta:
        managed = False
        db_table = "scrape_logs"
        ordering = ["id"]
        verbose_name = "local scrape log"

    def __str__(self) -> str:
        return f"{self.status} at {self.started_at}"


class ServiceRegion(models.Model):
    id = models.AutoField(primary_key=True)
    organization = models.ForeignKey(
        Organization, models.DO_NOTHING, related_name="service_region_rows"
    )
    country = models.CharField(max_length=100)
    active = models.BooleanField(null=True, db_default=True)
    notes = models.TextField(null=True)
    created_at = models.DateTimeField(null=True, db_default=Now())
    updated_at = models.DateTimeField(null=True, db_default=Now())
    region = models.CharField(max_length=100, null=True)

    class Meta:
        managed = False
        db_table = "service_regions"
        ordering = ["id"]
        verbose_name = "local service region"

    def __str__(self) -> str:
        return self.country


# Foreign-key order: parents before children. Writes go in this order, deletions in reverse.
SYNCED_MODELS: tuple[type[models.Model], ...] = (
    Organization,
    Animal,
    AnimalImage,
    ScrapeLog,
    ServiceRegion,
)
SYNCED_TABLES: tuple[str, ...] = tuple(model._meta.db_table for model in SYNCED_MODELS)


class SyncRun(models.Model):
    """One run of ``railway_sync`` or ``railway_setup``, recorded in the local project database."""

    OUTCOME_SUCCESS = "success"
    OUTCOME_FAILED = "failed"
    # Everything landed but the site's rows kept at ids local also uses (the command exits 1).
    OUTCOME_CONFLICTS = "conflicts"
    # A guard refused some tables, left as they were; the others landed (the command exits 1).
    OUTCOME_PARTIAL = "partial"
    # Stopped by Ctrl-C or SystemExit: not a success, whatever it had written.
    OUTCOME_INTERRUPTED = "interrupted"

    command = models.CharField(max_length=50)
    mode = models.CharField(max_length=20)
    dry_run = models.BooleanField(default=False)
    options = models.JSONField(default=dict)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    outcome = models.CharField(max_length=20, blank=True)
    tables = models.JSONField(default=list)
    error = models.TextField(blank=True)
    # A ``--watch`` row: how many syncs it records (successive successful ones of one watch
    # are folded into one row an hour, ``tables`` summed) and the seconds they took together
    # (the rest of started..finished the watch waited); None for any other run.
    cycles = models.PositiveIntegerField(null=True)
    sync_seconds = models.FloatField(null=True)

    class Meta:
        db_table = "railway_sync_run"
        ordering = ["-started_at"]
        verbose_name = "sync run"

    def __str__(self) -> str:
        return f"{self.command} {self.mode} {self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


class OwnWrite(models.Model):
    """A local transaction of railway_sync's own (a history write), by its 64-bit id: it
    wrote no synced table (``pg.own_writes``)."""

    xid = models.BigIntegerField(primary_key=True)

    class Meta:
        db_table = "railway_sync_own_write"
        verbose_name = "own local write"

    def __str__(self) -> str:
        return f"transaction {self.xid}"


class RailwayOrganization(Organization):
    class Meta:
        proxy = True
        verbose_name = "Railway organization"


class RailwayAnimal(Animal):
    class Meta:
        proxy = True
        verbose_name = "Railway animal"


class RailwayAnimalImage(AnimalImage):
    class Meta:
        proxy = True
        verbose_name = "Railway animal image"


class RailwayScrapeLog(ScrapeLog):
    class Meta:
        proxy = True
        verbose_name = "Railway scrape log"


class RailwayServiceRegion(ServiceRegion):
    class Meta:
        proxy = True
        verbose_name = "Railway service region"


class PullState(models.Model):
    """Where one local table stood after the last ``railway_pull``, in the local project
    database (Railway is only read by a pull, so the record cannot live there).

    ``local_watermark``: the oldest transaction running when the pull wrote; every later
    local change (but the pull's own, ``pull_xid``) is local work not yet on Railway.
    ``site_ids``: the site's rows the pull brought (``int8multirange`` text): now also local,
    they stay the site's, never claimed by a sync.
    """

    table_name = models.CharField(max_length=63, primary_key=True)
    pulled_at = models.DateTimeField()
    local_watermark = models.BigIntegerField()
    pull_xid = models.BigIntegerField()
    site_ids = models.TextField(default="{}")

    class Meta:
        db_table = "railway_sync_pull_state"
        verbose_name = "pull state"

    def __str__(self) -> str:
        return f"{self.table_name} pulled {self.pulled_at:%Y-%m-%d %H:%M:%S}"
