"""The compose file and the image, checked as files (no Docker daemon or `docker compose` here):
they must work from a fresh clone, which has no `.env`, and over a `/data` volume that the
image's user can write."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import ROOT

PUBLISHER_SERVICES = {"worker", "beat", "bot", "web"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_every_service_is_there_and_built_from_this_folder() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", *PUBLISHER_SERVICES}
    for name in PUBLISHER_SERVICES:
        service = services[name]
        assert service["build"] == ".", name
        assert service["command"][0] == "publisher", name
        assert service["environment"]["PUBLISHER_DATA_DIR"] == "/data", name
        assert "publisher-data:/data" in service["volumes"], name
        assert service["depends_on"] == ["redis"], name
    mounted = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    named = {source for source in mounted if not source.startswith(".")}
    assert named <= set(compose()["volumes"]), "every named volume is declared"
    for source in mounted - named:
        assert (ROOT / source).exists(), f"{source} is in the repository"


def test_a_missing_env_file_is_no_error() -> None:
    for name, service in compose()["services"].items():
        env_file = service.get("env_file")
        if env_file is None:
            continue
        assert isinstance(env_file, list), f"{name}: a plain `env_file: .env` requires the file"
        assert env_file == [{"path": ".env", "required": False}], name


def test_web_has_a_healthcheck_on_healthz_without_curl() -> None:
    web = compose()["services"]["web"]
    check = web["healthcheck"]
    command = check["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    code = command[3]
    compile(code, "healthcheck", "exec")  # Python the container can run
    port = web["command"][web["command"].index("--port") + 1]
    assert f"http://127.0.0.1:{port}/healthz" in code and "urllib.request" in code
    assert web["ports"] == [f"127.0.0.1:{port}:{port}"]
    for field in ("interval", "timeout", "retries", "start_period"):
        assert field in check, field
    assert re.fullmatch(r"\d+s", check["timeout"]) and re.fullmatch(r"\d+s", check["interval"])


def test_the_image_makes_data_writable_for_its_user() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    user = lines.index("USER nobody")
    makes = [
        n for n, line in enumerate(lines) if line.startswith("RUN") and "mkdir -p /data" in line
    ]
    assert makes and makes[0] < user, "/data is made before the USER line, as root"
    assert re.search(r"chown nobody(:nogroup)? /data", lines[makes[0]])
    assert "ENV PUBLISHER_DATA_DIR=/data" in lines


def test_the_image_leaves_secrets_and_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", "var/", ".venv/", ".git/"):
        assert entry in ignored, entry
