from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.catalogue.world import import_slice


@pytest.fixture(scope="session")
def catalogue_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The slice of the national catalogue, imported once per run (read it, or copy it)."""
    return import_slice(tmp_path_factory.mktemp("catalogue"))
