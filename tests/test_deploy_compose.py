"""deploy/compose.yaml, checked without a Docker engine: the compose-spec JSON schema (as
vendored by check-jsonschema), then what the portal needs from it: a scalable worker per queue
with time for a warm shutdown, valid `portal` commands, settings that pass the production
checks, health checks, a persistent Redis that never evicts, and the gateway's wiring."""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
from pathlib import Path
from typing import Any

import check_jsonschema
import jsonschema
import pytest
import yaml

from portal.cli import build_parser
from portal.runner import api_argv
from services.kernel.contracts import QUEUES
from services.kernel.registry import PUBLIC_APIS, SERVICES
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
TEMPLATE = DEPLOY / "nginx" / "templates" / "default.conf.template"
PUBLIC = PUBLIC_APIS
API_PORT = api_argv("accounts")[api_argv("accounts").index("--port") + 1]  # `portal serve`
_PREFIXES = ("PORTAL_", "REDIS_", "SMTP_", *(f"{s.upper()}_" for s in SERVICES))


def compose_schema() -> dict[str, Any]:
    path = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    return dict(json.loads(path.read_text()))


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))  # merge keys (<<) resolved


_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}."""
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        present = name in env and (env[name] != "" or op in (None, "-", "?"))
        if present:
            return env[name]
        if op in (":?", "?"):
            raise KeyError(f"{name} is required: {arg}")
        return arg if op else ""

    return _VAR.sub(one, value)


def is_portal(service: dict[str, Any]) -> bool:
    return "PORTAL_IMAGE" in str(service.get("image", ""))


def duration_seconds(text: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"bad duration {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_file_matches_the_compose_spec(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_schema_does_catch_mistakes(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["relay"]["stop_grace_periode"] = "30s"  # a typo
    broken["services"]["redis"]["restart"] = ["always"]  # a string, not a list
    errors = schema_errors(broken)
    assert any("stop_grace_periode" in e for e in errors), errors
    assert any(e.startswith("services/redis/restart") for e in errors), errors


def test_every_queue_has_a_scalable_worker_with_time_to_finish(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for queue in QUEUES:
        worker = services[f"{queue}-worker"]
        assert is_portal(worker)
        assert worker["command"][:2] == ["worker", queue]
        # `docker compose up --scale <worker>=N` needs neither a fixed name nor a host port
        assert "container_name" not in worker and "ports" not in worker
        tasks = importlib.import_module(f"services.{queue}.tasks")
        time_limit = tasks.celery.conf.task_time_limit
        assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"  # Celery: warm shutdown
        assert duration_seconds(worker["stop_grace_period"]) > time_limit


def test_every_portal_container_runs_a_valid_portal_command(compose: dict[str, Any]) -> None:
    commands = {n: s["command"] for n, s in compose["services"].items() if is_portal(s)}
    for command in commands.values():
        build_parser().parse_args(command)  # exits (fails the test) on a bad command
    for name in PUBLIC:
        assert commands[name] == ["serve", name]
    relay = build_parser().parse_args(commands["relay"])
    assert sorted(relay.services) == sorted(SERVICES)
    assert commands["migrate"] == ["migrate"] and commands["keys"] == ["keys"]
    # every API and worker waits for the migrations and the signing key
    for name in [*PUBLIC, "relay", *(f"{q}-worker" for q in QUEUES)]:
        needs = compose["services"][name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["keys"]["condition"] == "service_completed_successfully"


def test_settings_pass_the_production_checks(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose["services"]
    # the variables an operator must set
    env = {"ACCOUNTS_SECRET_KEY": "0" * 64, "PORTAL_CAPTCHA_SECRET": "1" * 64}
    with pytest.raises(KeyError, match="ACCOUNTS_SECRET_KEY"):
        interpolate(services["accounts"]["environment"]["ACCOUNTS_SECRET_KEY"], {})
    for name in ("accounts", "dossiers"):  # one seals captcha answers, the other opens them
        with pytest.raises(KeyError, match="PORTAL_CAPTCHA_SECRET"):
            interpolate(services[name]["environment"]["PORTAL_CAPTCHA_SECRET"], {})
    for name, service in services.items():
        if not is_portal(service):
            continue
        resolved = {k: str(interpolate(v, env)) for k, v in service["environment"].items()}
        for key in [k for k in os.environ if k.startswith(_PREFIXES)]:
            monkeypatch.delenv(key, raising=False)
        for key, value in resolved.items():
            monkeypatch.setenv(key, value)
        for svc in SERVICES:
            module = importlib.import_module(f"services.{svc}.settings")
            module.get_settings.cache_clear()
            settings = module.get_settings()
            settings.check_production()  # production: a database URL, captchas sealed, no test
            assert settings.production, name
            host, db = re.match(r".*@([\w.-]+):\d+/(\w+)$", settings.database_url).groups()
            assert host == "postgres" and db == svc
            assert settings.redis_url.startswith("redis://redis:6379/")
            module.get_settings.cache_clear()
        assert resolved["SMTP_HOST"] in services  # the mail catcher
    sql = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    assert sorted(re.findall(r"CREATE DATABASE (\w+);", sql)) == sorted(SERVICES)


def test_health_checks_and_a_redis_that_keeps_tasks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in PUBLIC:
        assert "/readyz" in " ".join(services[name]["healthcheck"]["test"])
    assert "/healthz" in " ".join(services["gateway"]["healthcheck"]["test"])
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis and "--maxmemory-policy noeviction" in redis
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown {needed}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
            else:
                assert source in compose["volumes"], source


def test_gateway_renders_the_tested_template_for_the_apis(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    env = gateway["environment"]
    wanted = set(re.findall(r"\$\{(\w+)\}", TEMPLATE.read_text()))
    assert wanted <= set(env), wanted - set(env)
    # the image's entrypoint substitutes only the variables whose names match this filter
    assert all(re.search(env["NGINX_ENVSUBST_FILTER"], name) for name in wanted)
    assert not re.search(env["NGINX_ENVSUBST_FILTER"], "HOSTNAME")
    for name in PUBLIC:
        assert env[f"GATEWAY_{name.upper()}"] == f"{name}:{API_PORT}"
        assert gateway["depends_on"][name]["condition"] == "service_healthy"
    assert "./nginx/templates:/etc/nginx/templates:ro" in gateway["volumes"]
    assert gateway["ports"] == [f"${{PORTAL_HTTP_PORT:-8080}}:{env['GATEWAY_PORT']}"]


# --- metrics: the Prometheus scrape configuration and the Grafana dashboard --------------------

DASHBOARD = DEPLOY / "grafana" / "portal-dashboard.json"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "and", "or", "unless", "inf", "nan",
}  # fmt: skip


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    aggregations, keywords, label names (in `{...}`, `by (...)`) or ranges (`[5m]`)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in _PROMQL_WORDS:
            continue
        names.add(word)
    return names


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict) and "label_values(" in query.get("query", ""):
            exprs.append(re.sub(r"label_values\((\w+).*", r"\1", query["query"]))
    return exprs


def test_promql_names_are_extracted() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (service, le) (rate(a_bucket{service=~"$service", '
        'x="y(z)"}[$__rate_interval]))) / ignoring (le) b_total offset 5m + on() c'
    )
    assert promql_metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_dashboard_queries_only_metrics_the_code_defines() -> None:
    from portal.metrics import all_metric_names

    defined = all_metric_names()
    exprs = dashboard_expressions()
    used = set().union(*(promql_metric_names(e) for e in exprs))
    assert used, "no queries found"
    assert used <= defined, f"the dashboard queries undefined metrics: {sorted(used - defined)}"
    # every series of the issue has a panel
    for name in (
        "portal_http_requests_total",
        "portal_http_request_duration_seconds_bucket",
        "portal_celery_tasks_total",
        "portal_celery_task_duration_seconds_bucket",
        "portal_queue_depth",
        "portal_outbox_backlog",
        "portal_outbox_oldest_age_seconds",
        "portal_emails",
    ):
        assert name in used, f"no panel shows {name}"
    joined = " ".join(exprs)
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in joined
    for status in ("sent", "failed", "retrying"):
        assert status in joined


def test_prometheus_scrapes_every_api_worker_and_the_relay(compose: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    services = compose["services"]
    targets: dict[str, int] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for sd in job["dns_sd_configs"]:
            for name in sd["names"]:
                targets[name] = int(sd["port"])
    metrics_port = int(compose["x-portal-env"]["PORTAL_METRICS_PORT"])
    for name in PUBLIC:
        assert targets[name] == int(API_PORT)
    for queue in QUEUES:
        assert targets[f"{queue}-worker"] == metrics_port
        assert services[f"{queue}-worker"]["environment"]["PORTAL_METRICS_PORT"] == str(
            metrics_port
        )
    assert targets["relay"] == metrics_port
    assert set(targets) <= set(services)
    prometheus = services["prometheus"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    grafana_mounts = " ".join(services["grafana"]["volumes"])
    assert "./grafana/portal-dashboard.json:" in grafana_mounts


def test_the_pages_run_behind_the_gateway(compose: dict[str, Any]) -> None:
    """`portal serve web`, reaching each API directly, healthy before nginx routes `/` to it."""
    services = compose["services"]
    web = services["web"]
    assert is_portal(web) and web["command"] == ["serve", "web"]
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    env = web["environment"]
    for name in PUBLIC:
        assert env[f"WEB_{name.upper()}_URL"] == f"http://{name}:{API_PORT}"
    assert env["PORTAL_ENV"] == "production" and env["REDIS_URL"].startswith("redis://redis:")
    # the APIs take the citizen's address from the pages' X-Forwarded-For, as from nginx's
    trusted = env["PORTAL_TRUSTED_PROXIES"].split(",")
    assert web["networks"]["default"]["ipv4_address"] in trusted
    gateway = services["gateway"]
    assert gateway["networks"]["default"]["ipv4_address"] in trusted
    assert gateway["environment"]["GATEWAY_WEB"] == f"web:{API_PORT}"
    assert gateway["depends_on"]["web"]["condition"] == "service_healthy"
