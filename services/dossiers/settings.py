from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class DossiersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOSSIERS_", extra="ignore")

    service_name: str = "dossiers"
    max_file_bytes: int = 10 * 1024 * 1024
    max_dossier_bytes: int = 50 * 1024 * 1024
    max_result_files: int = 10
    captcha_ttl: int = 10 * 60
    """As long as the accounts service lets a captcha live."""
    draft_retention_days: float = 30
    """Drafts nobody changed for this long are purged with their files (hourly)."""

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "files" / "dossiers"


@lru_cache
def get_settings() -> DossiersSettings:
    return DossiersSettings()
