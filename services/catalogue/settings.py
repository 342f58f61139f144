from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class CatalogueSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOGUE_", extra="ignore")

    service_name: str = "catalogue"


@lru_cache
def get_settings() -> CatalogueSettings:
    return CatalogueSettings()
