from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"


class CatalogueSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOGUE_", extra="ignore")

    service_name: str = "catalogue"
    layout: Literal["2025", "2023"] = "2025"
    """The agency layout: since the July 2025 reform (default) or the three tiers before it."""
    source_file: Path = SHARED_DATA / "procedures" / "national-catalogue.jsonl"
    admin_units_dir: Path = SHARED_DATA / "admin-units"
    agencies_file: Path = Path(__file__).resolve().parent / "data" / "agencies.json"
    lexicon_path: Path = Path(__file__).resolve().parent / "data" / "lexicon.toml"
    """The search lexicon shipped with the code (admins add entries through the API)."""
    search_log_seconds: float = 5.0
    """How often each process adds its search counts to the database."""
    search_log_days: int = 180
    """Days of search counts kept (housekeeping forgets older ones)."""
    max_form_bytes: int = 10 * 1024 * 1024
    cache_max_age: int = 60
    """Seconds a browser or proxy may reuse a catalogue answer (ETag revalidates after)."""

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "files" / "catalogue"


@lru_cache
def get_settings() -> CatalogueSettings:
    return CatalogueSettings()
