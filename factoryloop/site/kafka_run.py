"""Write, format and run one Kafka node of a site the way the local stack does, for a systemd unit.

``factoryloop deploy kafka-config`` writes ``server.properties``, ``log4j2.properties`` and ``cluster-id``
into the node's config folder (with ``--site``: a secured, 0600 ``server.properties`` and the salted SCRAM
users in ``scram-credentials``, 0600); ``factoryloop deploy kafka-run`` formats the storage when it is new
(creating those SCRAM users) and then *replaces itself* with the JVM (``os.execv``), so systemd supervises and
signals java directly. The JVM options and class path are the local stack's (``factoryloop.stack.kafka``).
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from factoryloop.site.kafka_node import parse_properties
from factoryloop.site.kafka_secure import SCRAM_FILE
from factoryloop.stack.errors import StackError
from factoryloop.stack.jars import require_jars, require_java
from factoryloop.stack.kafka import _TOOL_OPTS, JVM_MODES
from factoryloop.stack.kafka_config import LOG4J2_PROPERTIES, to_properties

logger = logging.getLogger(__name__)

CONFIG_NAME = "server.properties"
LOG4J_NAME = "log4j2.properties"
CLUSTER_ID_NAME = "cluster-id"


def write_node_files(
    config: dict[str, str],
    out: Path,
    cluster_id: str | None,
    force: bool = False,
    scram: tuple[str, ...] | None = None,
) -> list[Path]:
    """Write ``out`` (server.properties), its log4j2 config and cluster id beside it; refuse to overwrite.
    With ``scram`` (a secured node: the config holds passwords) ``out`` and the SCRAM file are 0600 from the
    start."""
    folder = out.parent
    files = {out: to_properties(config), folder / LOG4J_NAME: LOG4J2_PROPERTIES}
    if cluster_id is not None:
        files[folder / CLUSTER_ID_NAME] = cluster_id + "\n"
    if scram is not None:
        files[folder / SCRAM_FILE] = "".join(f"{value}\n" for value in scram)
    secret = {out, folder / SCRAM_FILE} if scram is not None else set()
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise StackError(f"{', '.join(map(str, existing))} exist: not overwritten (--force replaces them)")
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        if path in secret:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # an overwritten (--force) file keeps no wider mode
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            path.write_text(text, encoding="utf-8")
    return list(files)


def scram_args(config: Path) -> list[str]:
    """``--add-scram`` arguments from the SCRAM file beside ``config`` (none for a plaintext node)."""
    path = config.parent / SCRAM_FILE
    if not path.is_file():
        return []
    values = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [arg for value in values for arg in ("--add-scram", value)]


def java_command(main: str, args: list[str], config: Path, jars_dir: Path, jvm_opts: list[str]) -> list[str]:
    """The JVM command line of the stack's ``KafkaNode._java``, with the log4j2 file beside ``config``."""
    return [
        require_java(),
        *jvm_opts,
        f"-Dlog4j2.configurationFile={config.parent / LOG4J_NAME}",
        "-cp",
        f"{require_jars(jars_dir)}/*",
        main,
        *args,
    ]


def read_cluster_id(config: Path) -> str:
    path = config.parent / CLUSTER_ID_NAME
    if not path.is_file():
        raise StackError(f"{path} is missing: write it with `factoryloop site kafka-config --cluster-id ...`")
    return path.read_text(encoding="utf-8").strip()


def data_dirs(config: Path) -> list[Path]:
    props = parse_properties(config.read_text(encoding="utf-8"))
    if "log.dirs" not in props:
        raise StackError(f"{config} has no log.dirs")
    return [Path(p) for p in props["log.dirs"].split(",") if p]


def format_storage(config: Path, jars_dir: Path, timeout_s: float = 120.0) -> bool:
    """Format the node's storage unless already formatted; True when it formatted."""
    if all((d / "meta.properties").is_file() for d in data_dirs(config)):
        logger.info("storage of %s already formatted", config)
        return False
    args = ["format", f"--cluster-id={read_cluster_id(config)}", "-c", str(config), "--ignore-formatted"]
    scram = scram_args(config)  # SCRAM users exist before the first start (secured nodes)
    cmd = java_command("kafka.tools.StorageTool", args + scram, config, jars_dir, _TOOL_OPTS)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise StackError(
            f"formatting the storage of {config} failed (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr)[-3000:]}"
        )
    logger.info("formatted the storage of %s (%d SCRAM users)", config, len(scram) // 2)
    return True


def run_command(config: Path, jars_dir: Path, heap: str) -> list[str]:
    """``java ... kafka.Kafka server.properties`` as the local stack starts a node."""
    return java_command("kafka.Kafka", [str(config)], config, jars_dir, heap.split() + JVM_MODES["tuned"])


def exec_node(config: Path, jars_dir: Path, heap: str) -> None:
    """Replace this process with the Kafka node (never returns)."""
    cmd = run_command(config, jars_dir, heap)
    logger.info("exec %s", " ".join(cmd))
    os.execv(cmd[0], cmd)
