"""Cluster ids are random URL-safe base64: one in 64 starts with "-", which the storage tool must not read as
an option (it did: "argument --cluster-id/-t: expected one argument", seen twice in test runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryloop.stack.kafka import KafkaCluster


@pytest.mark.parametrize("cluster_id", ["-" + "A" * 21, "_" + "b" * 21, "MkU3OEVBNTcwNTJENDM2Qk"])
def test_storage_formats_with_any_cluster_id(kafka_jars: Path, tmp_path: Path, cluster_id: str) -> None:
    cluster = KafkaCluster.create(tmp_path, kafka_jars, [(19092, 19093)])
    node = cluster.nodes[0]
    node.prepare(cluster_id)
    meta = (node.spec.data_dir / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}" in meta
