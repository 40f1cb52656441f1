"""The production stack from outside: deploy/compose.yaml as Compose reads it, and `make deploy-smoke`
(deploy/smoke/smoke.sh) building it offline, bringing it up, grading a lab on two worker containers and
tearing it down."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither 'docker compose' nor 'docker-compose' is installed (Debian: apt-get install -y docker-compose)")


def compose_config(tmp_path: Path, *files: str, profile: str | None = None, **env: str) -> dict:
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {"QUANTPREP_ENV_FILE": str(env_file), **env}.items()))
    argv = [*compose_command(), "--env-file", str(env_file), "--project-directory", str(ROOT / "deploy")]
    for name in files:
        argv += ["-f", str(ROOT / "deploy" / name)]
    argv += ["--profile", profile] if profile else []
    done = subprocess.run([*argv, "config"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_compose_file_is_valid_and_has_every_service_with_health_checks_and_restart_policies(tmp_path):
    config = compose_config(tmp_path, "compose.yaml", profile="gpu", POSTGRES_PASSWORD="pw")
    services = config["services"]
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "gpu-worker", "beat"}
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no"
        else:
            assert service["restart"] == "unless-stopped" and service["healthcheck"]["test"], name
    assert services["gpu-worker"]["profiles"] == ["gpu"]
    assert services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert services["gpu-worker"]["environment"]["SANDBOX_GPUS"] == "all"
    assert "-Q" in services["worker"]["command"] and "grading" in services["worker"]["command"]
    assert "gpu" in services["gpu-worker"]["command"]
    assert any(str(v).startswith("/var/run/docker.sock:") or (isinstance(v, dict) and v.get("source") == "/var/run/docker.sock")
               for v in services["worker"]["volumes"])
    for name in ("web", "worker", "gpu-worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"  # migrations first, once
        # db and redis named directly: Compose stops a service only after the running services that name it
        # (migrate has exited by then), so a worker's warm shutdown still has its broker and database
        assert depends_on["db"]["condition"] == depends_on["redis"]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "migrate" in " ".join(services["migrate"]["command"]) and "load_content" in " ".join(services["migrate"]["command"])
    assert services["db"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")
    assert services["web"]["environment"]["DATABASE_URL"] == "postgres://quantprep:pw@db:5432/quantprep"
    assert "ports" not in services["db"] and "ports" not in services["redis"]  # private unless expose.yaml


def test_on_a_fresh_checkout_without_deploy_env_compose_config_lists_every_service(tmp_path):
    """What an operator runs first, before writing deploy/.env: `docker-compose -f deploy/compose.yaml config`."""
    checkout = tmp_path / "checkout"
    (checkout / "deploy").mkdir(parents=True)
    for name in ("compose.yaml", "worker-host.yaml", "expose.yaml", "defaults.env"):
        (checkout / "deploy" / name).write_text((ROOT / "deploy" / name).read_text())
    argv = [*compose_command(), "-f", "deploy/compose.yaml"]
    done = subprocess.run([*argv, "config", "--services"], cwd=checkout, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == {"db", "redis", "migrate", "web", "worker", "gpu-worker", "beat"}
    done = subprocess.run([*compose_command(), "-f", "deploy/worker-host.yaml", "config"], cwd=checkout,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "set MAIN_HOST in deploy/.env" in done.stderr  # a worker host must say where


def test_a_worker_host_joins_the_main_machines_database_and_broker(tmp_path):
    config = compose_config(tmp_path, "worker-host.yaml", profile="gpu", POSTGRES_PASSWORD="pw", MAIN_HOST="10.1.2.3")
    services = config["services"]
    assert set(services) == {"worker", "gpu-worker"}
    assert services["worker"]["environment"]["CELERY_BROKER_URL"] == "redis://10.1.2.3:6379/0"
    assert services["gpu-worker"]["environment"]["DATABASE_URL"] == "postgres://quantprep:pw@10.1.2.3:5432/quantprep"
    exposed = compose_config(tmp_path, "compose.yaml", "expose.yaml", POSTGRES_PASSWORD="pw", PRIVATE_ADDRESS="10.1.2.3")
    assert any("10.1.2.3" in str(p) for p in exposed["services"]["db"]["ports"])


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_deploy_smoke_brings_the_stack_up_grades_on_two_workers_and_leaves_nothing():
    # --no-print-directory: under `make test` this is a sub-make, which would add "Leaving directory" lines.
    done = subprocess.run(
        ["make", "--no-print-directory", "deploy-smoke"], cwd=ROOT, capture_output=True, text=True, timeout=1500
    )
    print(done.stdout[-6000:], done.stderr[-6000:])
    verdicts = [line for line in done.stdout.splitlines() if line.startswith("deploy-smoke: ")]
    failures = [line for line in done.stderr.splitlines() if line.startswith("deploy-smoke: FAILED")]
    assert done.returncode == 0 and verdicts and verdicts[-1].startswith("deploy-smoke: OK"), \
        "\n".join([*failures, done.stderr[-2000:]])
    assert "0 containers, 0 volumes, 0 networks left" in verdicts[-1]
    assert "accepted by" in verdicts[-1] and "with the first worker stopped" in verdicts[-1]
