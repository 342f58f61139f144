"""Copy deploy/nginx/templates/default.conf.template into the gateway ConfigMap (gateway.yaml),
which kustomize cannot read from outside this folder. tests/test_deploy_k8s.py checks they match."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "nginx" / "templates" / "default.conf.template"
MANIFEST = HERE / "gateway.yaml"
KEY = "  default.conf.template: |\n"

text = MANIFEST.read_text()
start = text.index(KEY) + len(KEY)
end = text.index("\n---\n", start) + 1
block = "".join(
    f"    {line}" if line.strip() else "\n" for line in TEMPLATE.read_text().splitlines(True)
)
MANIFEST.write_text(text[:start] + block + text[end:])
print(f"{MANIFEST.name}: ConfigMap refreshed from {TEMPLATE.relative_to(HERE.parent.parent)}")
