"""docker-compose.yml, checked without Docker: the Compose specification's JSON schema, and
every service and variable the app needs."""

from __future__ import annotations

import glob
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from marathon.service.settings import SETTINGS

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    wheels = glob.glob(str(ROOT / ".venv/share/wheels/docker_compose-*.whl"))
    assert wheels, "the Compose schema comes with `make install` (docker-compose wheel)"
    data: dict[str, Any] = json.loads(
        zipfile.ZipFile(wheels[0]).read("compose/config/compose_spec.json")
    )
    return data


def test_the_file_follows_the_compose_specification(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    # The file says draft 2019-09 under an http:// URI jsonschema does not map; name it.
    assert "2019-09" in schema["$schema"]
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    broken = {**compose, "services": {"api": {"depends_on": {"db": {"condition": "sometimes"}}}}}
    assert list(validator.iter_errors(broken)), "the schema does reject a bad file"


def test_the_services_and_their_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"jaeger", "postgres", "resend-sandbox", "api", "worker"} <= set(services)
    assert services["worker"]["command"][:2] == ["marathon", "worker"]
    assert services["api"]["environment"]["MARATHON_WORKER"] == "off"
    assert re.fullmatch(
        r"jaegertracing/jaeger:\$\{JAEGER_VERSION:-2\.\d+\.\d+\}", services["jaeger"]["image"]
    )
    assert {"16686:16686", "4317:4317", "4318:4318"} <= set(services["jaeger"]["ports"])
    assert re.fullmatch(r"postgres:\$\{POSTGRES_VERSION:-\d+\}", services["postgres"]["image"])
    assert services["postgres"]["volumes"][0].split(":")[0] in compose["volumes"]
    assert "8000:8000" in services["api"]["ports"]
    for name in ("postgres", "resend-sandbox", "api"):
        assert "healthcheck" in services[name], name
    deps = services["api"]["depends_on"]
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["resend-sandbox"]["condition"] == "service_healthy"


def test_the_worker_scales(compose: dict[str, Any]) -> None:
    """`docker compose up --scale worker=N`: copies need no fixed name and no host port."""
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert "--concurrency" not in worker["command"], "MARATHON_WORKER_CONCURRENCY decides"


@pytest.mark.parametrize("service", ["api", "worker"])
def test_the_app_gets_the_environment_it_reads(compose: dict[str, Any], service: str) -> None:
    env = compose["services"][service]["environment"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    assert env["OTEL_SERVICE_NAME"] == f"marathon-{service}"
    assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["DATABASE_URL"]
    assert env["RESEND_API_URL"] == "http://resend-sandbox:8025"
    assert compose["services"]["resend-sandbox"]["environment"]["OTEL_SERVICE_NAME"] == (
        "resend-sandbox"
    )
    declared = {s.env for s in SETTINGS}  # what the app reads (tests/test_settings.py)
    for name in env:  # the SDK reads more OTEL_* variables than marathon documents
        assert name in declared or name.startswith("OTEL_"), f"{name} is not read by the app"


def test_no_secrets_in_the_file(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for service in compose["services"].values():
        for name in service.get("environment", {}):
            assert not re.search(r"PASSWORD|SECRET|TOKEN|API_KEY", name), name
    assert not re.search(r"re_[A-Za-z0-9]{8,}", text)


def test_the_dockerfile_is_multi_stage_on_the_runtime_lock() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, flags=re.M)) == 2
    assert "COPY --from=build" in text and "requirements.lock" in text
    assert "requirements-dev.lock" not in text
