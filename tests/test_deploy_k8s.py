"""deploy/k8s, checked without a cluster: every manifest against the Kubernetes schemas
(kubernetes-validate, strict: unknown fields are errors), the KEDA ScaledObjects against a
vendored schema, the kustomization (built with `kubectl kustomize` where kubectl is installed),
and what the portal needs: a worker per queue with a warm shutdown, KEDA on the right queues,
probes and resources, and every ConfigMap and Secret a pod refers to."""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from portal.cli import build_parser
from portal.runner import api_argv, worker_argv
from services.kernel.contracts import QUEUES
from services.kernel.registry import PUBLIC_APIS, SERVICES
from tests.support import ROOT

K8S = ROOT / "deploy" / "k8s"
TEMPLATE = ROOT / "deploy" / "nginx" / "templates" / "default.conf.template"
KEDA_SCHEMA = Path(__file__).parent / "schemas" / "keda-scaledobject.json"
PUBLIC = PUBLIC_APIS
SCALED_QUEUES = ("dossiers", "notifier")
API_PORT = int(api_argv("accounts")[api_argv("accounts").index("--port") + 1])
# the oldest Kubernetes these manifests are meant for, and the newest the schemas know
VERSIONS = ("1.29.0", latest_version())


def kustomization() -> dict[str, Any]:
    return dict(yaml.safe_load((K8S / "kustomization.yaml").read_text()))


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return [doc for name in kustomization()["resources"] for doc in load(K8S / name)]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_every_manifest_matches_the_kubernetes_schemas(docs: list[dict[str, Any]]) -> None:
    examples = load(K8S / "secrets.example.yaml")
    checked = 0
    for doc in [*docs, *examples]:
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # not a Kubernetes API: see the next tests
        for version in VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
            checked += 1
    assert checked >= 2 * 20


def test_the_kubernetes_schemas_do_catch_mistakes(docs: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(find(docs, "Deployment", "notifier-worker"))
    spec = broken["spec"]["template"]["spec"]
    spec["terminationGracePeriod"] = 330  # a typo of terminationGracePeriodSeconds
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)
    broken = copy.deepcopy(find(docs, "Service", "accounts"))
    broken["spec"]["ports"][0]["port"] = "tám nghìn"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def keda_errors(doc: dict[str, Any]) -> list[str]:
    schema = json.loads(KEDA_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_scaled_objects_match_the_keda_schema(docs: list[dict[str, Any]]) -> None:
    scaled = [d for d in docs if d["kind"] == "ScaledObject"]
    assert scaled
    for doc in scaled:
        assert keda_errors(doc) == [], doc["metadata"]["name"]
    broken = copy.deepcopy(scaled[0])
    broken["spec"]["triggers"][0]["metadata"].pop("listName")
    broken["spec"]["triggers"][0]["metadata"]["listLength"] = 20  # must be a string
    broken["spec"]["minReplicas"] = 1  # an HPA field, not KEDA's minReplicaCount
    errors = " ".join(keda_errors(broken))
    assert "listName" in errors and "listLength" in errors and "minReplicas" in errors, errors


def test_kustomization_lists_every_manifest_and_builds() -> None:
    listed = kustomization()["resources"]
    present = sorted(p.name for p in K8S.glob("*.yaml"))
    assert sorted(listed) == [
        n for n in present if n not in ("kustomization.yaml", "secrets.example.yaml")
    ]
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return  # the structural checks above and below still ran
    built = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    out = [d for d in yaml.safe_load_all(built.stdout) if d]
    namespace = kustomization()["namespace"]
    for doc in out:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace
        for _, spec in pod_specs([doc]):
            for c in containers(spec):
                if "portal" in c["image"]:
                    image = kustomization()["images"][0]
                    assert c["image"] == f"{image['newName']}:{image['newTag']}"


def test_every_queue_has_a_worker_that_finishes_its_tasks(docs: list[dict[str, Any]]) -> None:
    for queue in QUEUES:
        deployment = find(docs, "Deployment", f"{queue}-worker")
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        args = build_parser().parse_args(container["args"])
        assert (args.command, args.queue) == ("worker", queue)
        # SIGTERM (Celery's warm shutdown) is sent first; SIGKILL only after the grace period,
        # which must outlast the longest task.
        time_limit = importlib.import_module(f"services.{queue}.tasks").celery.conf.task_time_limit
        assert spec["terminationGracePeriodSeconds"] > time_limit
        assert "lifecycle" not in container  # nothing that kills it before Celery is done
        probe = " ".join(container["livenessProbe"]["exec"]["command"])
        assert f"services.{queue}.tasks:celery inspect ping" in probe
        assert f'-d "{queue}@$HOSTNAME"' in probe  # the node name `portal worker` gives
        assert f"{queue}@%h" in worker_argv(queue)


def test_keda_scales_the_dossiers_and_notifier_workers(docs: list[dict[str, Any]]) -> None:
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d["kind"] == "ScaledObject"}
    assert sorted(scaled) == sorted(f"{q}-worker" for q in SCALED_QUEUES)
    namespace = kustomization()["namespace"]
    redis = find(docs, "Service", "redis")
    for queue in SCALED_QUEUES:
        target = find(docs, "Deployment", f"{queue}-worker")
        assert "replicas" not in target["spec"], "KEDA owns the replica count"
        (trigger,) = scaled[f"{queue}-worker"]["spec"]["triggers"]
        assert trigger["type"] == "redis"
        meta = trigger["metadata"]
        assert meta["listName"] == queue  # Celery's Redis transport: a list named as the queue
        host, port = meta["address"].split(":")
        assert host == f"redis.{namespace}.svc.cluster.local"
        assert int(port) == redis["spec"]["ports"][0]["port"]
        config = find(docs, "ConfigMap", "portal-config")["data"]
        assert config["REDIS_URL"] == f"redis://redis:{port}/{meta['databaseIndex']}"
    for queue in set(QUEUES) - set(SCALED_QUEUES):
        assert find(docs, "Deployment", f"{queue}-worker")["spec"]["replicas"] >= 1


def test_apis_have_probes_resources_and_a_service(docs: list[dict[str, Any]]) -> None:
    for svc in PUBLIC:
        deployment = find(docs, "Deployment", f"{svc}-api")
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert build_parser().parse_args(container["args"]).service == svc
        (port,) = container["ports"]
        assert port["containerPort"] == API_PORT
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
        (init,) = spec["initContainers"]
        assert init["args"] == ["migrate", svc]
        service = find(docs, "Service", svc)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert service["spec"]["ports"][0]["targetPort"] == port["name"]
        assert service["spec"]["ports"][0]["port"] == API_PORT
    for name, spec in pod_specs(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for c in containers(spec):
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{name}/{c['name']}"
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_gateway_runs_the_tested_template_in_front_of_the_api_services(
    docs: list[dict[str, Any]],
) -> None:
    config = find(docs, "ConfigMap", "portal-gateway-template")
    assert config["data"]["default.conf.template"] == TEMPLATE.read_text(), (
        "gateway.yaml's copy of the template is stale: python3 deploy/k8s/sync-gateway-template.py"
    )
    gateway = find(docs, "Deployment", "gateway")["spec"]["template"]["spec"]
    (nginx,) = gateway["containers"]
    env = {e["name"]: e["value"] for e in nginx["env"]}
    assert set(re.findall(r"\$\{(\w+)\}", TEMPLATE.read_text())) <= set(env)
    for svc in PUBLIC:
        host, port = env[f"GATEWAY_{svc.upper()}"].split(":")
        assert find(docs, "Service", host)["spec"]["ports"][0]["port"] == int(port)
    assert nginx["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert int(env["GATEWAY_PORT"]) == nginx["ports"][0]["containerPort"]
    mounts = {m["mountPath"]: m["name"] for m in nginx["volumeMounts"]}
    volumes = {v["name"]: v for v in gateway["volumes"]}
    assert volumes[mounts["/etc/nginx/templates"]]["configMap"]["name"] == "portal-gateway-template"
    # only the gateway reaches the APIs (they trust its X-Forwarded-For)
    policy = find(docs, "NetworkPolicy", "apis-from-gateway-only")["spec"]
    gateway_labels = find(docs, "Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    allowed = policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert allowed.items() <= gateway_labels.items()
    for svc in PUBLIC:
        labels = find(docs, "Deployment", f"{svc}-api")["spec"]["template"]["metadata"]["labels"]
        assert policy["podSelector"]["matchLabels"].items() <= labels.items()


def test_every_config_and_secret_a_pod_uses_exists(
    docs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pods refer to the ConfigMap in config.yaml and to the Secrets and ConfigMap that
    secrets.example.yaml describes; with those values every service passes the production
    checks and reads its own database."""
    available: dict[tuple[str, str], dict[str, str]] = {}
    for doc in [*docs, *load(K8S / "secrets.example.yaml")]:
        if doc["kind"] in ("ConfigMap", "Secret"):
            data = doc.get("data") or doc.get("stringData") or {}
            available[(doc["kind"], doc["metadata"]["name"])] = data
    claims = {
        doc["metadata"]["name"]: {
            t["metadata"]["name"] for t in doc["spec"]["volumeClaimTemplates"]
        }
        for doc in docs
        if doc["kind"] == "StatefulSet"
    }
    for name, spec in pod_specs(docs):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in volumes.values():
            if "configMap" in v:
                assert ("ConfigMap", v["configMap"]["name"]) in available, name
            if "secret" in v:
                data = available[("Secret", v["secret"]["secretName"])]
                assert {i["key"] for i in v["secret"].get("items", [])} <= set(data)
        for c in containers(spec):
            env: dict[str, str] = {}
            for source in c.get("envFrom", []):
                env.update(available[("ConfigMap", source["configMapRef"]["name"])])
            for item in c.get("env", []):
                if "value" in item:
                    env[item["name"]] = item["value"]
                    continue
                ref = item["valueFrom"]["secretKeyRef"]
                data = available[("Secret", ref["name"])]
                assert ref["key"] in data, f"{name}/{c['name']}: {ref}"
                env[item["name"]] = data[ref["key"]]
            for mount in c.get("volumeMounts", []):
                known = mount["name"] in volumes or mount["name"] in claims.get(name, ())
                assert known, f"{name}/{c['name']}: no volume {mount['name']}"
            if "portal" in c["image"]:
                _check_settings(name, c, env, monkeypatch)


def _check_settings(
    name: str, container: dict[str, Any], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = build_parser().parse_args(container["args"])
    if args.command == "serve" and args.service == "web":
        _check_web_settings(name, env, monkeypatch)
        return
    own = {
        "serve": [getattr(args, "service", None)],
        "worker": [getattr(args, "queue", None)],
        "migrate": getattr(args, "services", None),
        "relay": getattr(args, "services", None),
    }[args.command] or list(SERVICES)
    prefixes = ("PORTAL_", "REDIS_", "SMTP_", *(f"{s.upper()}_" for s in SERVICES))
    for key in [k for k in os.environ if k.startswith(prefixes)]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for svc in own:
        module = importlib.import_module(f"services.{svc}.settings")
        module.get_settings.cache_clear()
        try:
            settings = module.get_settings()
            settings.check_production()
            assert settings.production
            assert settings.database_url.endswith(f"/{svc}"), f"{name}: {svc}'s database"
            if args.command == "serve":
                assert env["PORTAL_JWT_PUBLIC_KEY_FILE"].startswith("/etc/portal/jwks/")
                mounts = [m["mountPath"] for m in container["volumeMounts"]]
                assert "/etc/portal/jwks" in mounts
            if svc == "accounts" and args.command == "serve":
                assert settings.secret_key, "production needs ACCOUNTS_SECRET_KEY"
                key_dir = str(settings.private_key_path.parent)
                assert key_dir in [m["mountPath"] for m in container["volumeMounts"]]
        finally:
            module.get_settings.cache_clear()


def test_pods_are_annotated_for_prometheus(docs: list[dict[str, Any]]) -> None:
    """APIs are scraped at :8000/metrics, workers and the relay at PORTAL_METRICS_PORT; the
    network policy lets the `monitoring` namespace reach the APIs."""
    config = find(docs, "ConfigMap", "portal-config")["data"]
    metrics_port = config["PORTAL_METRICS_PORT"]
    names = [
        *(f"{s}-api" for s in PUBLIC),
        *(f"{q}-worker" for q in QUEUES),
        "relay",
    ]
    for name in names:
        template = find(docs, "Deployment", name)["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        expected = str(API_PORT) if name.endswith("-api") else metrics_port
        assert annotations["prometheus.io/port"] == expected, name
    policy = find(docs, "NetworkPolicy", "apis-from-gateway-only")["spec"]
    monitoring = [
        rule
        for rule in policy["ingress"]
        if any("namespaceSelector" in peer for peer in rule["from"])
    ]
    (rule,) = monitoring
    assert rule["ports"] == [{"protocol": "TCP", "port": API_PORT}]


def _check_web_settings(name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages: production (Secure `__Host-` cookie), sessions in the portal's Redis, each
    API reached through its Service."""
    from web.settings import WebSettings

    for key in [k for k in os.environ if k.startswith(("PORTAL_", "REDIS_", "WEB_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = WebSettings()
    assert settings.production and settings.session_cookie == "__Host-phien", name
    assert settings.public_url.startswith("https://")
    assert settings.redis_url == env["REDIS_URL"]
    for svc in PUBLIC:
        assert getattr(settings, f"{svc}_url") == f"http://{svc}:{API_PORT}", name


def test_the_pages_behind_the_gateway(docs: list[dict[str, Any]]) -> None:
    """`portal serve web` with probes and a Service nginx routes `/` to; it reaches the APIs
    (allowed by their network policy) and only the gateway reaches it."""
    deployment = find(docs, "Deployment", "web")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert build_parser().parse_args(container["args"]).service == "web"
    (port,) = container["ports"]
    assert port["containerPort"] == API_PORT
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = find(docs, "Service", "web")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    gateway = find(docs, "Deployment", "gateway")["spec"]["template"]
    (nginx,) = gateway["spec"]["containers"]
    env = {e["name"]: e["value"] for e in nginx["env"]}
    assert env["GATEWAY_WEB"] == f"web:{service['spec']['ports'][0]['port']}"
    apis = find(docs, "NetworkPolicy", "apis-from-gateway-only")["spec"]
    allowed = [peer["podSelector"]["matchLabels"] for peer in apis["ingress"][0]["from"]]
    assert any(selector.items() <= labels.items() for selector in allowed)
    pages = find(docs, "NetworkPolicy", "web-from-gateway-only")["spec"]
    assert pages["podSelector"]["matchLabels"].items() <= labels.items()
    (rule,) = pages["ingress"]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"].items() <= gateway["metadata"]["labels"].items()
    assert rule["ports"] == [{"protocol": "TCP", "port": API_PORT}]
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert any(b["spec"]["selector"]["matchLabels"].items() <= labels.items() for b in budgets)
