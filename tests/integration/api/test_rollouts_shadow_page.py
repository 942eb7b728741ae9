"""A shadow stage on the dashboard's rollouts page, in headless Chromium: the rollout controller's events
(published here as it publishes them: the stage's transition, then its figures so far as ``progress``
events) are stored by the sink, and the page shows the live figures (frames judged by both models,
disagreement, missed rate) against the policy's limits, with what is over them; ``GET
/products/{name}/rollout`` carries the same figures; progress events stay out of the history. An engineer
asks for a shadow from the page's deploy form: a rollout request with its shadow agents."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from api.security import Role
from factoryloop.kafka import EventProducer
from factoryloop.schemas import RolloutEvent, RolloutRequest, RolloutState
from factoryloop.schemas.rollouts import ShadowAsk
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import read_topic
from tests.integration.api.test_browser import ARGS, CHROMIUM, serve

pytestmark = [pytest.mark.kafka, pytest.mark.browser, pytest.mark.mlflow]
LIMITS = {"limit.max_disagreement": 0.2, "limit.max_missed_rate": 0.1, "limit.min_shadow_frames": 50.0}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only (the reads are covered on both backends by the unit and API tests)."""
    return f"sqlite:///{tmp_path / 'api.db'}"


def shadow_event(product: str, reason: str, evidence: dict[str, float], progress: bool) -> RolloutEvent:
    return RolloutEvent(
        rollout_id="s" * 16,
        product=product,
        model_name=f"factoryloop-{product}",
        model_version="2",
        previous_version="1",
        state=RolloutState.SHADOW,
        stages=3,
        agents=("agent-7", "agent-8"),
        reason=reason,
        evidence=evidence | LIMITS,
        progress=progress,
    )


def test_the_shadow_stage_shows_its_live_figures_against_the_limits(
    api_factory, kafka_settings: KafkaSettings, mlflow_server: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set FACTORYLOOP_TEST_CHROMIUM)")
    product = f"tile{uuid.uuid4().hex[:6]}"
    name = f"factoryloop-{product}"
    client = MlflowClient(tracking_uri=mlflow_server)
    client.create_registered_model(name, tags={"product": product})
    for _ in range(2):
        client.create_model_version(name, source=f"s3://models/{name}/model", tags={"product": product})
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "canary", "2")
    started = shadow_event(product, "stage 1 of 3: gate passed", {"shadow_frames": 0.0}, progress=False)
    so_far = shadow_event(
        product,
        "stage 1 of 3: so far",
        {
            "shadow_frames": 64.0,
            "shadow_disagreement": 0.0625,  # 4 of 64: within 20 %
            "shadow_missed_rate": 0.25,  # 2 of the 8 frames the champion fails: over 10 %
            "shadow_pass_champion_fail": 2.0,
            "champion_fail_frames": 8.0,
            "shadow_fail_champion_pass": 2.0,
            "agents_shadowing": 2.0,
            "agents": 2.0,
        },
        progress=True,
    )
    with EventProducer(kafka_settings) as producer:
        for e in (started, so_far):
            producer.send_sync(TopicRole.ROLLOUTS, e, key=product)

    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server)
    panel = None
    for _ in range(150):  # the sink may still be catching up
        panel = api.get(f"/api/v1/products/{product}/rollout").json()
        if panel["in_flight"] and panel["in_flight"]["note"]:
            break
        time.sleep(0.2)
    assert panel is not None and panel["in_flight"]["state"] == "shadow", panel
    f = panel["in_flight"]
    assert f["reason"] == "stage 1 of 3: gate passed" and f["note"] == "stage 1 of 3: so far"
    assert f["shadow"]["frames"] == 64 and f["shadow"]["min_frames"] == 50
    assert (f["shadow"]["missed_rate"], f["shadow"]["max_missed_rate"]) == (0.25, 0.1)
    assert [h["state"] for h in panel["history"]] == ["shadow"]  # the transition, not the progress event

    with serve(api) as (base, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page.goto(f"{base}/ui/login")
            page.fill("#token", api.tokens[Role.ENGINEER])
            page.click("#login")
            expect(page.locator("h1")).to_contain_text("Lines")
            page.goto(f"{base}/ui/rollouts?product={product}")
            figures = page.locator("#shadow-figures")
            expect(figures).to_be_visible()

            def row(figure: str):  # type: ignore[no-untyped-def]
                return figures.locator(f"tr[data-figure='{figure}']")

            expect(row("frames").locator(".value")).to_have_text("64")
            expect(row("frames")).to_contain_text("at least 50")
            expect(row("disagreement").locator(".value")).to_have_text("6.2 %")
            expect(row("disagreement").locator(".status")).to_have_text("within")
            expect(row("missed").locator(".value")).to_have_text("25.0 % (2 of 8)")
            expect(row("missed")).to_contain_text("at most 10.0 %")
            expect(row("missed").locator(".status.over")).to_have_text("over the limit")
            expect(row("agents").locator(".value")).to_have_text("2 of 2")
            expect(page.locator("#in-flight-note")).to_contain_text("so far")
            expect(page.locator("table.evidence")).to_have_count(0)  # the figures, not the raw evidence
            expect(page.locator("#rollout-history tr[data-kind='rollout_event']")).to_have_count(1)

            # An engineer asks for another shadow from the page: a rollout request, the controller acts.
            form = page.locator("#deploy-form")
            form.locator("input[name=version]").fill("2")
            form.locator("input[name=shadow]").check()
            form.locator("input[name=shadow_agents]").fill("agent-8")
            form.locator("button").click()
            expect(page.locator("#rollout-message")).to_contain_text("stays 'requested'")
        finally:
            browser.close()

    asked = [r for r in read_topic(kafka_settings, TopicRole.ROLLOUTS, 3) if isinstance(r, RolloutRequest)]
    assert [(r.model_version, r.staged, r.shadow) for r in asked] == [
        ("2", True, ShadowAsk(agents=("agent-8",)))
    ]
