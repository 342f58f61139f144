from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class DossiersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOSSIERS_", extra="ignore")

    service_name: str = "dossiers"


@lru_cache
def get_settings() -> DossiersSettings:
    return DossiersSettings()
