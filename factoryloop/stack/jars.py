"""Fetch the Kafka broker jars from Maven Central with ``mvn`` into ``$FACTORYLOOP_HOME/jars/kafka-<v>/``.

The pom is rendered from code (``render_pom``); ``deploy/local/pom.xml`` is the same pom for fetching by hand
(a unit test keeps the two identical). Jars go through ``~/.m2`` so a second fetch is offline.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from factoryloop.stack.errors import JarsMissingError, StackError, ToolMissingError

logger = logging.getLogger(__name__)

# Kafka 4.1 logs through slf4j 1.7 (slf4j-api 1.7.36) and ships log4j-core 2.25.x: bind with log4j-slf4j-impl.
LOG4J_VERSION = "2.25.3"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"  # Maven 3.8's default maven-dependency-plugin 2.8 cannot copy these jars.
_MARKER = ".complete"

_POM_TEMPLATE = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- The jars of an Apache Kafka {kafka_version} broker (KRaft), fetched for the factoryloop local stack.
     Fetch by hand:  mvn -q -f deploy/local/pom.xml dependency:copy-dependencies -DincludeScope=runtime \\
                       -DoutputDirectory=$HOME/.factoryloop/jars/kafka-{kafka_version}
     `factoryloop stack fetch` renders this same pom (factoryloop/stack/jars.py) and runs that command. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.factoryloop</groupId>
  <artifactId>factoryloop-kafka-jars</artifactId>
  <version>{kafka_version}</version>
  <packaging>pom</packaging>

  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka_version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j_version}</version>
    </dependency>
  </dependencies>

  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{plugin_version}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def render_pom(kafka_version: str) -> str:
    """The pom listing the runtime jars of a Kafka broker of ``kafka_version``."""
    return _POM_TEMPLATE.format(
        kafka_version=kafka_version, log4j_version=LOG4J_VERSION, plugin_version=DEPENDENCY_PLUGIN_VERSION
    )


def jars_present(jars_dir: Path) -> bool:
    """True when a previous fetch into ``jars_dir`` completed."""
    return (jars_dir / _MARKER).is_file() and any(jars_dir.glob("kafka_2.13-*.jar"))


def require_java() -> str:
    """Path of ``java``; raise ``ToolMissingError`` saying what to install when absent."""
    java = shutil.which("java")
    if java is None:
        raise ToolMissingError(
            "java not found on PATH: Kafka 4.1 needs a JDK/JRE 17 or newer "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)."
        )
    return java


def require_jars(jars_dir: Path) -> Path:
    """``jars_dir`` if it holds fetched jars, else raise ``JarsMissingError`` saying what to run."""
    if not jars_present(jars_dir):
        raise JarsMissingError(f"Kafka jars not found in {jars_dir}: run `factoryloop stack fetch` first.")
    return jars_dir


def fetch_kafka_jars(jars_dir: Path, kafka_version: str, timeout_s: float = 900.0) -> Path:
    """Download the broker jars into ``jars_dir`` unless already there (no ``mvn`` call then)."""
    if jars_present(jars_dir):
        logger.debug("Kafka jars already in %s", jars_dir)
        return jars_dir
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissingError(
            "mvn not found on PATH: fetching the Kafka jars needs Apache Maven "
            "(Debian/Ubuntu: apt-get install maven), or copy a Kafka distribution's libs/*.jar into "
            f"{jars_dir} and create the file {jars_dir / _MARKER}."
        )
    build_dir = jars_dir.parent / f".build-kafka-{kafka_version}"
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "pom.xml").write_text(render_pom(kafka_version), encoding="utf-8")
    jars_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(build_dir / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={jars_dir}",
    ]
    logger.info("fetching Kafka %s jars into %s", kafka_version, jars_dir)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"mvn did not finish within {timeout_s:.0f}s fetching the Kafka jars") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise StackError(f"mvn failed fetching the Kafka jars (exit {proc.returncode}):\n{tail}")
    if not any(jars_dir.glob("kafka_2.13-*.jar")):
        raise StackError(f"mvn succeeded but no kafka_2.13 jar landed in {jars_dir}")
    (jars_dir / _MARKER).write_text(kafka_version + "\n", encoding="utf-8")
    shutil.rmtree(build_dir, ignore_errors=True)
    return jars_dir
