"""The retention jobs' deployment: systemd timers with their oneshot services (``systemd-analyze verify`` and
``calendar``), and the Kubernetes CronJobs (the same rules as the Deployments, commands the CLI has, volumes
where the settings point). The services themselves also go through tests/unit/deploy/test_systemd_units.py
(hardening, security exposure, env examples, command lines)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from factoryloop.site.env_names import unknown_names

ROOT = Path(__file__).resolve().parents[3]
SYSTEMD = ROOT / "deploy" / "systemd"
K8S = ROOT / "deploy" / "k8s"
TIMERS = sorted(SYSTEMD.glob("*.timer"))
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze not installed (apt-get install systemd)"
)


def _key(text: str, key: str) -> str:
    found = re.findall(rf"^{key}=(.+)$", text, re.M)
    assert len(found) == 1, f"{key}: {found}"
    return found[0]


def test_each_prune_job_has_a_timer() -> None:
    assert {t.name for t in TIMERS} >= {"factoryloop-api-prune.timer", "factoryloop-dataset-prune.timer"}
    for timer in TIMERS:
        text = timer.read_text()
        service = SYSTEMD / _key(text, "Unit")
        assert service.is_file(), timer.name
        unit = service.read_text()
        assert _key(unit, "Type") == "oneshot" and "prune" in _key(unit, "ExecStart"), service.name
        assert _key(text, "Persistent") == "true" and _key(text, "WantedBy") == "timers.target"
        assert "[Install]" not in unit, f"{service.name} is started by its timer, not enabled itself"


@needs_analyze
@pytest.mark.parametrize("timer", TIMERS, ids=lambda p: p.name)
def test_calendar_and_verify(timer: Path, tmp_path: Path) -> None:
    text = timer.read_text()
    cal = subprocess.run(
        [str(ANALYZE), "calendar", _key(text, "OnCalendar")], capture_output=True, text=True, timeout=60
    )
    assert cal.returncode == 0 and "Next elapse" in cal.stdout, cal.stdout + cal.stderr
    tool = shutil.which("factoryloop") or str(Path(sys.executable).parent / "factoryloop")
    if not Path(tool).is_file():
        pytest.skip("factoryloop is not installed here: the service's command cannot be checked")
    service = SYSTEMD / _key(text, "Unit")
    (tmp_path / timer.name).write_text(text)
    (tmp_path / service.name).write_text(
        service.read_text().replace("/opt/factoryloop/venv/bin/factoryloop", tool)
    )
    proc = subprocess.run(
        [str(ANALYZE), "verify", "--man=no", timer.name, service.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if "factoryloop" in line]
    assert proc.returncode == 0 and not ours, proc.stdout + proc.stderr


def _cronjobs() -> list[dict[str, Any]]:
    docs = [d for p in sorted(K8S.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    return [d for d in docs if d.get("kind") == "CronJob"]


CRONJOBS = _cronjobs()
CONFIG = yaml.safe_load((K8S / "config.yaml").read_text())["data"]
SECRETS = {
    s["metadata"]["name"]: set(s["stringData"])
    for s in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
    if s
}


def test_both_prune_jobs_are_scheduled() -> None:
    commands = {
        tuple(c["command"])
        for j in CRONJOBS
        for c in j["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    }
    assert commands == {("factoryloop", "api", "prune"), ("factoryloop", "dataset", "prune")}


@pytest.mark.parametrize("job", CRONJOBS, ids=[j["metadata"]["name"] for j in CRONJOBS])
def test_cronjob(job: dict[str, Any]) -> None:
    spec = job["spec"]
    assert job["apiVersion"] == "batch/v1" and spec["concurrencyPolicy"] == "Forbid"
    assert len(spec["schedule"].split()) == 5
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure") and pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["capabilities"]["drop"] == ["ALL"]
    assert security["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
    assert [e["configMapRef"]["name"] for e in container["envFrom"]] == ["factoryloop-site"]
    for var in container.get("env", []):
        ref = var["valueFrom"]["secretKeyRef"]  # this job's variables are all secrets
        assert ref["key"] in SECRETS[ref["name"]], var
    assert not unknown_names({v["name"] for v in container.get("env", [])})
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert set(mounts) == {v["name"] for v in pod["volumes"]}
    if container["command"][1] == "api":  # the frames it deletes are where the API reads them
        assert mounts["frames"] == CONFIG["FACTORYLOOP_API_FRAMES_DIR"]
    else:
        assert mounts["datasets"] == CONFIG["FACTORYLOOP_DATASETS"]
    proc = subprocess.run(
        [sys.executable, "-m", "factoryloop.cli", *container["command"][1:], "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--dry-run" in proc.stdout
