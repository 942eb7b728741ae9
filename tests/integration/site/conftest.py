"""The site test's fixture: the whole site on network namespaces, torn down at the end even on failure.

Skips (with the reason) where namespaces are unavailable: not root, no ``ip``, or a kernel/container that
refuses ``ip netns add``. Leftovers of a killed earlier run (namespaces and links named ``flsite*``, and what
still ran inside those namespaces) are removed first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.site import netns
from tests.integration.site.support import SiteUnderTest

logger = logging.getLogger(__name__)

FPS = 10.0  # per agent: what this 2-core box sustains next to three brokers and two sinks (the goal is 30)


@pytest.fixture(scope="module")
def site_under_test(tmp_path_factory: pytest.TempPathFactory, kafka_jars: Path) -> Iterator[SiteUnderTest]:
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(f"site test needs network namespaces: {reason}")
    pytest.importorskip("onnx")
    from tests.support.edge_onnx import pass_model

    logging.getLogger("kafka").setLevel(logging.WARNING)  # the test's own admin reads: quiet
    root = tmp_path_factory.mktemp("site")
    site = SiteUnderTest(root, kafka_jars, FPS)
    started = time.monotonic()
    try:
        site.net.create()
        site.init_site()
        kafka_s = site.start_kafka()
        site.apply_acls()
        site.start_sinks()
        site.start_agents(pass_model(root / "pass.onnx"))
        site.setup_s = {"kafka": kafka_s, "all": time.monotonic() - started}
        yield site
    finally:
        site.stop_all()
        site.net.destroy()
        logger.info("site torn down (%s)", root)
