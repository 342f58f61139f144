"""Search quality (issue 13): how often a citizen's everyday query puts the procedure they need
in the first 5 results and first, beside the official-name query set the catalogue tests use,
with the lexicon and without it (same catalogue, same run).

    uv run python -m bench.search_quality                 # SQLite catalogue in var/bench-search
    uv run python -m bench.search_quality --database-url postgresql://postgres@127.0.0.1/postgres

Options: CATALOGUE_LEXICON_PATH (a lexicon file to try), EVERYDAY_PATH (a development set module
defining EVERYDAY), --misses (list every query not in the first 5). The catalogue is imported
once into var/bench-search (SQLite) or a fresh PostgreSQL database, then queried in-process
through the catalogue's HTTP app. Writes bench/results/search_quality.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.catalogue.app import create_app  # noqa: E402
from services.catalogue.importer import run_import  # noqa: E402
from services.catalogue.settings import CatalogueSettings  # noqa: E402
from services.kernel.migrations import upgrade  # noqa: E402
from tests.search_cases import MUST_BE_FIRST, QUERIES  # noqa: E402

Case = tuple[str, frozenset[str]]


def everyday_set() -> list[Case]:
    path = os.environ.get("EVERYDAY_PATH")
    if path:
        spec = importlib.util.spec_from_file_location("everyday", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases = module.EVERYDAY
    else:
        from tests.search_everyday import EVERYDAY as cases
    return [(q, frozenset(codes)) for q, codes in cases]


async def evaluate(settings: CatalogueSettings, sets: dict[str, list[Case]]) -> dict[str, Any]:
    app = create_app(settings)
    results: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalogue") as client:
            for name, cases in sets.items():
                first = top5 = 0
                misses = []
                began = time.perf_counter()
                for query, codes in cases:
                    answer = await client.get("/procedures", params={"q": query, "page_size": 5})
                    found = [item["code"] for item in answer.json()["items"]]
                    first += bool(found[:1]) and found[0] in codes
                    hit = any(c in codes for c in found)
                    top5 += hit
                    if not hit:
                        misses.append({"query": query, "wanted": sorted(codes), "got": found})
                results[name] = {
                    "queries": len(cases),
                    "top1": round(first / len(cases), 3),
                    "top5": round(top5 / len(cases), 3),
                    "ms_per_query": round((time.perf_counter() - began) * 1000 / len(cases), 2),
                    "misses": misses,
                }
    return results


def prepare(database_url: str | None, work: Path) -> CatalogueSettings:
    if database_url:
        name = f"bench_search_{uuid.uuid4().hex[:8]}"
        asyncio.run(_create_database(database_url, name))
        url = database_url.rsplit("/", 1)[0] + f"/{name}"
        settings = CatalogueSettings(data_dir=work, database_url=url)
        fresh = True
    else:
        settings = CatalogueSettings(data_dir=work, database_url="")
        fresh = not (work / "catalogue.db").exists() and not any(work.glob("*.db"))
    upgrade("catalogue", settings.resolved_database_url())
    if fresh or database_url:
        print("importing the catalogue…", flush=True)
    asyncio.run(run_import(settings, settings.source_file, show_progress=False, only_if_empty=True))
    return settings


async def _create_database(admin_url: str, name: str) -> None:
    await _admin(admin_url, f'CREATE DATABASE "{name}"')


async def _drop_database(admin_url: str, name: str) -> None:
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(admin_url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    parser.add_argument("--misses", action="store_true", help="print every query not in the top 5")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "search_quality.json"
    )
    args = parser.parse_args()
    work = ROOT / "var" / "bench-search"
    work.mkdir(parents=True, exist_ok=True)
    settings = prepare(args.database_url, work)
    try:
        measure(args, settings)
    finally:
        if args.database_url:
            name = settings.resolved_database_url().rsplit("/", 1)[1]
            asyncio.run(_drop_database(args.database_url, name))


def measure(args: argparse.Namespace, settings: CatalogueSettings) -> None:
    lexicon = Path(os.environ.get("CATALOGUE_LEXICON_PATH") or settings.lexicon_path)
    sets = {
        "everyday": everyday_set(),
        "official names": [(q, frozenset({c})) for q, c in MUST_BE_FIRST + QUERIES],
    }
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.toml"
        empty.write_text("")
        without = asyncio.run(evaluate(settings.model_copy(update={"lexicon_path": empty}), sets))
    with_lexicon = asyncio.run(
        evaluate(settings.model_copy(update={"lexicon_path": lexicon}), sets)
    )
    backend = "postgresql" if args.database_url else "sqlite"
    shown = lexicon.relative_to(ROOT) if lexicon.is_relative_to(ROOT) else lexicon
    print(f"\nsearch quality ({backend}; lexicon {shown})")
    print(f"{'set':<16}{'queries':>8}{'top 5':>16}{'first':>16}{'ms/query':>10}")
    for name in sets:
        a, b = without[name], with_lexicon[name]
        print(
            f"{name:<16}{b['queries']:>8}"
            f"{a['top5']:>7.0%} → {b['top5']:>5.0%}{a['top1']:>8.0%} → {b['top1']:>5.0%}"
            f"{b['ms_per_query']:>10}"
        )
    for name in sets:
        misses = with_lexicon[name]["misses"]
        if misses and (args.misses or name != "everyday"):
            print(f"\nnot in the first 5 ({name}):")
            for miss in misses:
                print(f"  {miss['query']!r}: wanted {miss['wanted']}, got {miss['got']}")
        elif misses:
            print(f"\n{len(misses)} everyday queries not in the first 5 (--misses lists them)")
    args.out.write_text(
        json.dumps(
            {"backend": backend, "without_lexicon": without, "with_lexicon": with_lexicon},
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
