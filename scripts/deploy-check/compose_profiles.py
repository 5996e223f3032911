"""Checks docker-compose.yml's `observability` profile without Docker or a registry.

The images cannot be pulled here, so the profile is not run by any check. This makes sure
it is wired as the README says: the collector and Jaeger exist only under the profile,
their images are pinned, the collector's config file exists and sends its OTLP input to
Jaeger, and the app exports only when OTEL_EXPORTER_OTLP_ENDPOINT is given.
"""

import pathlib
import sys

import yaml

root = pathlib.Path(sys.argv[1])
compose = yaml.safe_load((root / "docker-compose.yml").read_text())
services = compose["services"]
problems = []

for name in ["otel-collector", "jaeger"]:
    service = services.get(name)
    if service is None:
        problems.append(f"{name}: missing")
        continue
    if service.get("profiles") != ["observability"]:
        problems.append(f"{name}: not under the observability profile only")
    image = service.get("image", "")
    if ":" not in image or image.endswith(":latest"):
        problems.append(f"{name}: image {image!r} is not pinned")

for name, service in services.items():
    if name not in ("otel-collector", "jaeger") and service.get("profiles"):
        problems.append(f"{name}: the default stack must not need a profile")

collector = services.get("otel-collector", {})
mounted = [v.split(":")[0] for v in collector.get("volumes", [])]
config_path = root / mounted[0] if mounted else None
if config_path is None or not config_path.is_file():
    problems.append(f"otel-collector: config {mounted} not found")
else:
    config = yaml.safe_load(config_path.read_text())
    pipeline = config["service"]["pipelines"]["traces"]
    if pipeline["receivers"] != ["otlp"]:
        problems.append("collector: traces are not received over OTLP")
    for exporter in pipeline["exporters"]:
        if not config["exporters"][exporter]["endpoint"].startswith("jaeger:"):
            problems.append(f"collector: {exporter} does not send to jaeger")
    if config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] != "0.0.0.0:4317":
        problems.append("collector: OTLP/gRPC is not on :4317")

env = compose["x-app"]["environment"]
if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") != "${OTEL_EXPORTER_OTLP_ENDPOINT:-}":
    problems.append("app: OTEL_EXPORTER_OTLP_ENDPOINT must default to empty (no export)")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("compose: the observability profile is wired (not run: its images cannot be pulled here)")
