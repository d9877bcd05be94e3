"""Static checks of the compose stack (no Docker engine needed): it parses, every
service has a healthcheck and valid start-order conditions, every variable it reads is
documented in .env.example, every build context and Dockerfile COPY source exists, and
no secret is committed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
#: Credentials the stack runs without (empty in .env.example).
OPTIONAL = ("CHAMPION_READ_TOKEN", "CHAMPION_WEBHOOK_SECRET")
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def env_example() -> dict[str, str]:
    out = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_every_service_has_a_healthcheck_and_valid_dependencies(compose) -> None:
    services = compose["services"]
    expected = {
        "postgres", "minio", "minio-init", "mlflow", "airflow-init", "airflow-apiserver",
        "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "api", "router",
        "secrets-check", "mlflow-users", "registry-webhook", "prometheus", "grafana",
    }  # fmt: skip
    assert set(services) == expected
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert rule["condition"] in ("service_healthy", "service_completed_successfully")
    assert services["mlflow"]["depends_on"]["minio-init"]["condition"] == (
        "service_completed_successfully"
    )


def test_every_variable_is_documented_and_used() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    used = set(VARIABLE.findall(text))
    documented = set(env_example())
    assert used - documented == set(), "undocumented in .env.example"
    assert documented - used == set(), "documented but never used"


def test_secrets_are_placeholders_and_no_env_file_is_committed() -> None:
    for key, value in env_example().items():
        if re.search(r"PASSWORD|SECRET|TOKEN|KEY", key):
            optional = key in OPTIONAL
            assert value.startswith("change-me") or (optional and value == ""), key
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [f for f in tracked if Path(f).name == ".env"]


def test_build_contexts_dockerfiles_and_copy_sources_exist(compose) -> None:
    seen = 0
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        context = (DEPLOY / build["context"]).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert context.is_dir(), f"{name}: no build context {context}"
        assert dockerfile.is_file(), f"{name}: no {dockerfile}"
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY"):
                sources = [p for p in line.split()[1:-1] if not p.startswith("--")]
                for source in sources:
                    assert (context / source).exists(), f"{name}: COPY {source} not in {context}"
        seen += 1
    assert seen >= 4  # mlflow, airflow (x5 via the anchor), api, router


def test_production_services_require_authentication(compose) -> None:
    services = compose["services"]
    entry = (DEPLOY / "mlflow" / "entrypoint.sh").read_text()
    assert "--app-name basic-auth" in entry
    assert "CHAMPION_ADMIN_TOKEN" in services["api"]["environment"]
    for name in ("api", "airflow-scheduler"):
        assert services[name]["environment"]["CHAMPION_MLFLOW_PASSWORD"].startswith("${")


def test_no_service_starts_without_real_secrets(compose) -> None:
    """Every required variable is ``${VAR:?…}`` (compose refuses to start without it),
    and the one-shot secrets check runs before the roots of the start order."""
    text = (DEPLOY / "docker-compose.yml").read_text()
    bare = re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)\}", text)
    assert bare == [], f"no :? guard: {bare}"
    services = compose["services"]
    assert services["secrets-check"]["command"][:2] == ["champion", "check-secrets"]
    for name in ("postgres", "minio", "router"):
        rule = services[name]["depends_on"]["secrets-check"]["condition"]
        assert rule == "service_completed_successfully", name
    # the check itself, with the example's placeholders: refused, naming them
    env = {**env_example(), "PATH": os.environ["PATH"]}
    check = [sys.executable, "-m", *services["secrets-check"]["command"]]
    assert check[-1] == ",".join(OPTIONAL)
    done = subprocess.run(check, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "CHAMPION_FEEDBACK_TOKEN" in done.stderr and "change-me" not in done.stderr
    real = {k: ("s3cr3t-" + k if v.startswith("change-me") else v) for k, v in env.items()}
    done = subprocess.run(check, env=real, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_admin_uis_bind_to_this_machine_and_no_password_is_on_a_command_line(compose) -> None:
    services = compose["services"]
    for name in ("mlflow", "airflow-apiserver", "minio", "router", "prometheus", "grafana"):
        for port in services[name]["ports"]:
            assert port.startswith("${ADMIN_UI_BIND:-127.0.0.1}:"), (name, port)
    entrypoint = (DEPLOY / "mlflow" / "entrypoint.sh").read_text()
    command = entrypoint[entrypoint.index("exec mlflow server") :]
    assert "PASSWORD" not in command and "STORE_URI" not in command


def _holders(compose: dict, variable: str) -> set[str]:
    """The services whose environment reads ``variable``."""
    return {
        name
        for name, service in compose["services"].items()
        if any(f"${{{variable}:" in str(v) for v in (service.get("environment") or {}).values())
    }


def test_each_credential_is_held_only_where_it_is_needed(compose) -> None:
    services = compose["services"]
    assert _holders(compose, "MINIO_ROOT_PASSWORD") == {"minio", "minio-init"}
    assert _holders(compose, "MLFLOW_S3_PASSWORD") == {"minio-init", "mlflow"}
    # the admin: the server, its account service and the webhook subscription (an
    # admin's right on MLflow)
    assert _holders(compose, "MLFLOW_ADMIN_PASSWORD") == {
        "mlflow", "mlflow-users", "registry-webhook"
    }  # fmt: skip
    assert "MLFLOW_API_PASSWORD" in services["api"]["environment"]["CHAMPION_MLFLOW_PASSWORD"]
    for name in ("airflow-scheduler", "airflow-apiserver"):
        password = services[name]["environment"]["CHAMPION_MLFLOW_PASSWORD"]
        assert "MLFLOW_PIPELINE_PASSWORD" in password, name
    for name, service in services.items():  # only the tracking server talks to S3
        if name != "mlflow":
            assert "AWS_SECRET_ACCESS_KEY" not in (service.get("environment") or {}), name
    # the accounts exist before anything logs in with them
    for name in ("api", "airflow-scheduler"):
        rule = services[name]["depends_on"]["mlflow-users"]["condition"]
        assert rule == "service_completed_successfully", name
    init = (DEPLOY / "minio" / "init.sh").read_text()
    assert '"arn:aws:s3:::${MLFLOW_BUCKET}/*"' in init and '"s3:*"' not in init
