"""A site over network namespaces survives a lost partition leader, a line cut off for 60 s and a broker
restart, with every outcome the agents produced in the API store exactly once.

Hosts (one namespace each, 10.213.0.0/24 on a bridge the test creates): kafka-1..3 (combined KRaft nodes,
TLS + SASL_SSL/SCRAM, ACLs), central (two ``factoryloop api sink`` processes on SQLite), line-1 and line-2
(one ``factoryloop agent run`` each, simulated camera). Every process runs its systemd unit's ExecStart.
After each fault: the agents' counters (``/metrics``) say how many frames they captured; the store must hold
one row per frame, by event id, and the time it took is recorded. The figures are printed at the end
(docs/benchmarks.md "Site faults").
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from typing import Any

import pytest

from factoryloop.kafka import EventProducer
from factoryloop.signing import sign
from factoryloop.topics import TopicRole
from tests.integration.site.checks import (
    agent_metrics,
    fully_replicated,
    last_heartbeats,
    outcome_leaders,
    outcomes_on_topic,
    store_counts,
    versions_in_store,
    wait_for,
)
from tests.integration.site.support import LINE_HOSTS, SiteUnderTest
from tests.support import events
from tests.support.edge_onnx import CLASS_NAMES

pytestmark = [pytest.mark.site, pytest.mark.timeout(900)]
logger = logging.getLogger(__name__)

CUT_S = 60.0
LEADER_DOWN_S = 20.0
BROKER_DOWN_S = 15.0


def settle(site: SiteUnderTest, what: str, timeout_s: float = 150.0) -> dict[str, Any]:
    """Read each agent's captured-frame count, then wait until the store holds every one of those frames'
    outcomes; the seconds that took, what is missing after ``timeout_s``, duplicates in the store."""
    captured: dict[str, int] = {}
    for host in LINE_HOSTS:
        metrics = agent_metrics(site.metrics_url(host))
        assert metrics is not None, f"agent on {host} does not answer:\n{site.agents[host].tail()}"
        assert metrics["factoryloop_agent_frames_dropped_total"] == 0, f"{host} dropped frames"
        captured[f"agent-{host}"] = int(metrics["factoryloop_agent_frames_captured_total"])

    def complete() -> bool:
        counts = store_counts(str(site.db))
        return all(a in counts and counts[a].missing_below(n) == 0 for a, n in captured.items())

    started = time.monotonic()
    try:
        wait_for(f"the store after {what}", complete, timeout_s)
    except AssertionError:
        logger.error("store incomplete after %s:\n%s", what, site.tails())
    counts = store_counts(str(site.db))
    result = {
        "fault": what,
        "frames": captured,
        "store_complete_s": round(time.monotonic() - started, 1),
        "missing": {a: counts[a].missing_below(n) if a in counts else n for a, n in captured.items()},
        "duplicates_in_store": {a: c.duplicates for a, c in counts.items()},
    }
    logger.info("after %s: %s", what, result)
    return result


def publish_deployment(site: SiteUnderTest) -> None:
    """A signed deployment of model version 2 (another constant model) to the whole fleet, as the trainer."""
    from tests.support.edge_onnx import write_constant_model, yolo_output

    model = write_constant_model(site.root / "models" / "v2.onnx", yolo_output([], 5, n=48))
    dep = events.deployment(
        deployment_id=uuid.uuid4().hex,
        target="fleet",
        model_name="pass",
        model_version="2",
        artifact_uri=model.as_uri(),
        sha256=hashlib.sha256(model.read_bytes()).hexdigest(),
        class_names=CLASS_NAMES,
        imgsz=160,
    )
    signed = sign(dep, site.site.env("trainer")["FACTORYLOOP_TRAIN_SIGNING_KEY"])
    with EventProducer(site.site.kafka_settings("trainer")) as producer:
        producer.send_sync(TopicRole.DEPLOYMENTS, signed, key=signed.compaction_key)


def serves(site: SiteUnderTest, agent_id: str, version: str) -> bool:
    """An outcome decided by model ``version`` is in the store for ``agent_id``."""
    return version in versions_in_store(str(site.db)).get(agent_id, set())


def buffered(site: SiteUnderTest, host: str) -> int:
    metrics = agent_metrics(site.metrics_url(host))
    return -1 if metrics is None else int(metrics["factoryloop_agent_buffer_records"])


def buffer_samples(site: SiteUnderTest, host: str, count: int) -> list[int]:
    """``count`` readings of the agent's buffer gauge, one a second."""
    out = []
    for _ in range(count):
        out.append(buffered(site, host))
        time.sleep(1.0)
    return out


def test_site_faults(site_under_test: SiteUnderTest) -> None:
    site = site_under_test
    admin = site.site.kafka_settings("admin")
    test_started = time.monotonic()
    figures: dict[str, Any] = {"setup_s": {k: round(v, 1) for k, v in site.setup_s.items()}}
    results = [settle(site, "start")]

    # 1. kill -9 the leader of line-1's outcomes partition while both agents produce; systemd's
    #    Restart=on-failure brings it back (here after LEADER_DOWN_S).
    keys = [f"{h}/st-1" for h in LINE_HOSTS]
    leaders = outcome_leaders(admin, keys)
    victim = leaders[keys[0]]
    figures["killed_leader"] = {"node": victim, "leads": [k for k, n in leaders.items() if n == victim]}
    site.brokers[victim].kill9()
    time.sleep(LEADER_DOWN_S)
    new_leaders = outcome_leaders(admin, keys)
    assert victim not in new_leaders.values(), new_leaders
    site.brokers[victim].start()
    figures["leader_back_replicated_s"] = round(
        wait_for("the killed broker back in sync", lambda: fully_replicated(admin), 180, every_s=1.0), 1
    )
    results.append(settle(site, "leader kill -9"))

    # 2. line-1 cut off from every broker (its cable down) for CUT_S, then healed. Meanwhile the trainer
    #    publishes a signed fleet deployment: line-2 takes it at once, line-1 once healed.
    site.net.cut("line-1")
    cut_at = time.monotonic()
    publish_deployment(site)
    took = wait_for("agent-line-2 serving v2", lambda: serves(site, "agent-line-2", "2"), 120)
    figures["deployment_s"] = {"agent-line-2 (connected)": round(took, 1)}
    time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))
    site.net.heal("line-1")
    healed = time.monotonic()
    wait_for("line-1's agent reachable again", lambda: buffered(site, "line-1") >= 0, 30)
    figures["buffered_at_heal"] = buffered(site, "line-1")
    # Drained: the backlog is down to what 2 s of production leave in the buffer. Once an agent has fallen
    # back to its disk buffer, new records keep going through it while the drainer works (it switches back
    # to live sends only when it finds the buffer empty), so under steady production the gauge hovers near
    # zero rather than resting on it: the samples after the drain show by how much.
    backlog_done = int(2 * site.fps)
    wait_for("line-1's backlog drained", lambda: 0 <= buffered(site, "line-1") <= backlog_done, 180)
    figures["buffer_drain_s"] = round(time.monotonic() - healed, 1)
    figures["buffer_records_after_drain"] = buffer_samples(site, "line-1", 5)
    results.append(settle(site, f"line-1 cut off {CUT_S:.0f} s"))
    figures["store_complete_after_heal_s"] = round(time.monotonic() - healed, 1)
    try:
        wait_for("agent-line-1 serving v2", lambda: serves(site, "agent-line-1", "2"), 120)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{site.tails()}") from None
    figures["deployment_s"]["agent-line-1 (after heal)"] = round(time.monotonic() - healed, 1)

    # 3. a broker stopped (systemctl stop: SIGTERM, controlled shutdown) and restarted with its data.
    node = 1 if victim != 1 else 2
    stopping = time.monotonic()
    code = site.brokers[node].stop(timeout_s=120)
    figures["broker_stop"] = {"node": node, "exit": code, "stop_s": round(time.monotonic() - stopping, 1)}
    time.sleep(BROKER_DOWN_S)
    site.brokers[node].start()
    figures["broker_back_replicated_s"] = round(
        wait_for("the restarted broker in sync", lambda: fully_replicated(admin), 180, every_s=1.0), 1
    )
    # Its data kept: kafka-run formatted the storage (with the site's SCRAM users) at the first start only.
    log = site.brokers[node].log.read_text()
    figures["broker_restart_formatted_again"] = (
        log.count("formatted the storage") != 1 or log.count("already formatted") != 1
    )
    results.append(settle(site, "broker stop + restart"))

    # The end: agents stopped as systemd does (SIGTERM: drain, final heartbeat); their own counts against
    # the store and the outcomes topic (read as the admin).
    codes = {h: site.agents[h].stop(timeout_s=90) for h in LINE_HOSTS}
    beats = last_heartbeats(admin)
    produced = {a: beats[a].frames_inspected for a in (f"agent-{h}" for h in LINE_HOSTS)}

    def stored_all() -> bool:
        counts = store_counts(str(site.db))
        return all(a in counts and counts[a].event_ids >= n for a, n in produced.items())

    try:
        wait_for("every outcome stored", stored_all, 120)
    except AssertionError:
        logger.error("not every outcome stored")
    counts = store_counts(str(site.db))
    topic = outcomes_on_topic(admin)
    final = {
        a: {
            "produced": n,
            "stored": counts[a].event_ids if a in counts else 0,
            "lost": n - (counts[a].event_ids if a in counts else 0),
            "duplicates_in_store": counts[a].duplicates if a in counts else 0,
            "records_on_topic": topic[a].records if a in topic else 0,
            "duplicates_on_topic": topic[a].duplicates if a in topic else 0,
            "frames_dropped": beats[a].frames_dropped,
            "buffer_evicted": beats[a].buffer_evicted,
        }
        for a, n in produced.items()
    }
    figures |= {"faults": results, "final": final, "agent_exit": codes}
    figures["test_s"] = round(time.monotonic() - test_started, 1)
    print("SITE FAULTS " + json.dumps(figures, indent=1))

    assert all(code == 0 for code in codes.values()), {h: site.agents[h].tail() for h in LINE_HOSTS}
    for result in results:
        assert all(m == 0 for m in result["missing"].values()), result
        assert all(d == 0 for d in result["duplicates_in_store"].values()), result
    for agent_id, f in final.items():
        assert f["produced"] > 0 and f["lost"] == 0 and f["duplicates_in_store"] == 0, (agent_id, f)
        assert f["stored"] == f["produced"] and f["frames_dropped"] == 0 and f["buffer_evicted"] == 0
    assert not figures["broker_restart_formatted_again"]
    assert figures["buffered_at_heal"] > 0, "the cut line buffered nothing: the partition did not bite"
