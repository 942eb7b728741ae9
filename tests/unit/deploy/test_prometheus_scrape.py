"""deploy/prometheus/prometheus*.yml: a job for every kind of process, on the ports the units, env files and
manifests give them, valid for promtool when it is installed (``check config``; the Kubernetes file only with
a promtool built with Kubernetes discovery, which Debian's is not)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from factoryloop.site.env_names import assignments

ROOT = Path(__file__).resolve().parents[3]
PROM = ROOT / "deploy" / "prometheus"
SYSTEMD = ROOT / "deploy" / "systemd"
K8S = ROOT / "deploy" / "k8s"
JOBS = {
    "factoryloop-agents",
    "factoryloop-api",
    "factoryloop-sinks",
    "factoryloop-trainer",
    "factoryloop-ingest",
}
NO_K8S_SD = "field kubernetes_sd_configs not found"


def _config(name: str) -> dict[str, Any]:
    return yaml.safe_load((PROM / name).read_text())


def _targets(job: str) -> list[str]:
    (scrape,) = [c for c in _config("prometheus.yml")["scrape_configs"] if c["job_name"] == job]
    return [t for s in scrape["static_configs"] for t in s["targets"]]


def _deployment(name: str) -> dict[str, Any]:
    return yaml.safe_load((K8S / f"{name}.yaml").read_text())


def test_a_job_per_kind_of_process() -> None:
    assert {c["job_name"] for c in _config("prometheus.yml")["scrape_configs"]} == JOBS
    alerts = (PROM / "alerts.yml").read_text()
    assert set(re.findall(r'up\{job="([^"]+)"\}', alerts)) <= JOBS
    (api,) = [c for c in _config("prometheus.yml")["scrape_configs"] if c["job_name"] == "factoryloop-api"]
    assert api["authorization"]["credentials_file"]  # the API's /metrics needs a supervisor's token


def test_ports_agree_with_the_units_and_env_files() -> None:
    trainer = assignments((SYSTEMD / "env" / "trainer.env").read_text(), False)
    assert _targets("factoryloop-trainer") == [f"central:{trainer['FACTORYLOOP_TRAIN_METRICS_PORT']}"]
    unit = (SYSTEMD / "factoryloop-sink@.service").read_text()
    (port,) = re.findall(r"^Environment=FACTORYLOOP_API_SINK_METRICS_PORT=(\S+)$", unit, re.M)
    sinks = _targets("factoryloop-sinks")
    assert sinks == [f"central:{port.replace('%i', str(i))}" for i in range(1, len(sinks) + 1)]
    api = assignments((SYSTEMD / "env" / "api.env").read_text(), False)
    assert _targets("factoryloop-api") == [f"central:{api['FACTORYLOOP_API_PORT']}"]
    example = yaml.safe_load((ROOT / "deploy" / "examples" / "line.yaml").read_text())
    assert f"line-pc-1:{example['metrics_port']}" in _targets("factoryloop-agents")


@pytest.mark.parametrize(
    ("deployment", "variable"),
    [("sink", "FACTORYLOOP_API_SINK_METRICS_PORT"), ("trainer", "FACTORYLOOP_TRAIN_METRICS_PORT")],
)
def test_kubernetes_pods_are_annotated_on_their_metrics_port(deployment: str, variable: str) -> None:
    config = yaml.safe_load((K8S / "config.yaml").read_text())["data"]
    pod = _deployment(deployment)["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    (container,) = pod["spec"]["containers"]
    (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == "metrics"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == config[variable] == str(port)
    relabel = _config("prometheus-k8s.yml")["scrape_configs"][0]["relabel_configs"]
    keep = relabel[0]
    assert keep["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    assert keep["action"] == "keep"
    jobs = {r["replacement"] for r in relabel if r.get("target_label") == "job"}
    assert jobs == {"factoryloop-sinks", "factoryloop-trainer"}


def _copy(tmp_path: Path, name: str) -> Path:
    """``name`` and alerts.yml in ``tmp_path``, the token file pointed at one that exists (promtool asks)."""
    token = tmp_path / "api.token"
    token.write_text("a-supervisor-token\n")
    shutil.copy(PROM / "alerts.yml", tmp_path / "alerts.yml")
    text = re.sub(r"credentials_file: \S+", f"credentials_file: {token}", (PROM / name).read_text())
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Prometheus' tools)")
@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus-k8s.yml"])
def test_promtool_checks_the_config(tmp_path: Path, name: str) -> None:
    path = _copy(tmp_path, name)
    out = subprocess.run(
        ["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60
    )
    if NO_K8S_SD in out.stdout + out.stderr:
        pytest.skip("this promtool has no Kubernetes service discovery (Debian builds it without)")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr
