"""The dashboard's views in headless Chromium, as a supervisor reads them: the line overview broken down and
filtered by line, station, shift (the site's calendar, Europe/Berlin) and class; recent defects filtered;
the fleet with figures for people and the offline agent marked; a product's champion, challenger, canary and
live figures; an alert acknowledged from the alerts page. One app (SQLite, a real MLflow, alerts fired by the
real evaluator) and one browser serve the whole module; the figures are checked against the seeded outcomes.

Screenshots go to the test's tmp dir, and to ``$FACTORYLOOP_SCREENSHOTS`` when set (``docs/img``)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.security import Role, create_token
from api.settings import ApiSettings
from factoryloop.settings import KafkaSettings
from tests.integration.api import dashboard_site as ds
from tests.integration.api.test_browser import ARGS, CHROMIUM, serve

pytestmark = [pytest.mark.browser, pytest.mark.mlflow]
VIEWPORT = {"width": 1360, "height": 900}
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mlflow_server: str) -> Iterator[SimpleNamespace]:
    """The app served on a free port with the seeded site, and a supervisor's token."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set FACTORYLOOP_TEST_CHROMIUM)")
    root = tmp_path_factory.mktemp("dashboard")
    settings = ApiSettings(
        database_url=f"sqlite:///{root / 'api.db'}",
        frames_dir=root / "frames",
        products_dir=root / "products",
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),  # never asked: no sink, no request published
        mlflow_tracking_uri=mlflow_server,
        environment="local",
        offline_after_s=120,  # the seeded agents stay online on a loaded machine; the silent one is 10 min
        shifts=ds.SHIFTS,
        timezone=ds.TIMEZONE,
        alerts_file=ds.alerts_file(root),
    )
    app = create_app(settings, run_sink=False)
    token = create_token(
        app.state.ctx.db, "supervisor-1", Role.SUPERVISOR, settings.token_pepper.get_secret_value()
    )
    seeded = ds.seed(app, mlflow_server)
    with serve(SimpleNamespace(client=SimpleNamespace(app=app))) as (base, _):
        yield SimpleNamespace(base=base, token=token, seeded=seeded, app=app)
    app.state.ctx.close()


@pytest.fixture(scope="module")
def browser(site: SimpleNamespace) -> Iterator[Any]:
    """One Chromium, logged in once as the supervisor."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = chromium.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page = context.new_page()
        page.goto(f"{site.base}/ui/login")
        page.fill("#token", site.token)
        page.click("#login")
        page.wait_for_url(f"{site.base}/ui/")
        page.close()
        try:
            yield context
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    p = browser.new_page()
    try:
        yield p
    finally:
        p.close()


def shot(page: Any, tmp_path: Path, name: str, full_page: bool = False) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), type="jpeg", quality=80, full_page=full_page)
    if os.environ.get("FACTORYLOOP_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["FACTORYLOOP_SCREENSHOTS"]) / name)


def rows(page: Any, table: str) -> dict[str, list[str]]:
    """The body rows of a figures table: data-key -> the cells' text."""
    out = {}
    for tr in page.locator(f"#{table} tr[data-key]").all():
        out[str(tr.get_attribute("data-key"))] = [c.strip() for c in tr.locator("td").all_inner_texts()]
    return out


def figures(expected: dict[Any, tuple[int, int, int]]) -> dict[str, list[str]]:
    """Expected (inspected, FAIL, UNCERTAIN) as the tables print them (the rate to one decimal)."""
    return {
        "/".join(k) if isinstance(k, tuple) else k: [f"{t:,}", f"{f:,}", f"{u:,}", f"{100 * f / t:.1f} %"]
        for k, (t, f, u) in expected.items()
    }


def test_overview_breaks_down_and_filters_by_line_station_shift_and_class(
    site: SimpleNamespace, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    outcomes = site.seeded.outcomes
    page.goto(f"{site.base}/ui/")
    expect(page.locator("#by-line")).to_be_visible()
    assert {k: v[1:] for k, v in rows(page, "by-line").items()} == figures(
        ds.expected(outcomes, lambda o: o.line_id)
    )
    by_station = figures(ds.expected(outcomes, lambda o: (o.line_id, o.station_id)))
    assert {k: v[1:] for k, v in rows(page, "by-station").items()} == by_station
    by_shift = figures(ds.expected(outcomes, lambda o: ds.shift_of(o.ts)))
    assert {k: v[2:] for k, v in rows(page, "by-shift").items()} == by_shift
    assert rows(page, "by-shift")["night"][1] == "22:00-06:00"
    boxes = ds.expected_boxes(outcomes)
    assert {k: int(v[1]) for k, v in rows(page, "by-class").items()} == dict(boxes)
    assert page.locator("#defect-chart polyline").count() == 2  # a series per line
    shot(page, tmp_path, "dashboard-lines.jpg", full_page=True)

    # one line in the early shifts, chosen in the filter form: a series per station of that line
    page.select_option("#filters select[name=line_id]", "plate-1")
    page.select_option("#filters select[name=shift]", "early")
    page.click("#filters button[type=submit]")
    expect(page.locator("h1")).to_contain_text("plate-1 · early shifts")
    mine = [o for o in outcomes if o.line_id == "plate-1" and ds.shift_of(o.ts) == "early"]
    expected_stations = figures(ds.expected(mine, lambda o: (o.line_id, o.station_id)))
    assert {k: v[1:] for k, v in rows(page, "by-station").items()} == expected_stations
    assert list(rows(page, "by-shift")) == ["early"]
    legend = page.locator(".legend").inner_text()
    assert "plate-1/st-1" in legend and "plate-1/st-2" in legend

    # a class from the class table: its boxes per inspection, the filters kept
    page.click("#by-class a:text-is('stain')")
    expect(page.locator("h1")).to_contain_text("stain")
    expect(page.locator("#by-class tr.chosen")).to_have_attribute("data-key", "stain")
    assert "stain boxes per inspection" in page.locator("main h2").all_inner_texts()[1]
    assert page.locator("#filters select[name=shift]").input_value() == "early"


def test_defects_filtered_by_class_station_and_shift(
    site: SimpleNamespace, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    outcomes = site.seeded.outcomes
    fails = [o for o in outcomes if o.verdict == "FAIL"]
    page.goto(f"{site.base}/ui/defects")
    figs = page.locator("#defects figure")
    expect(figs).to_have_count(len(fails))
    page.wait_for_function(  # the thumbnails are the stored frames with their boxes drawn
        "() => [...document.querySelectorAll('#defects img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    shot(page, tmp_path, "dashboard-defects.jpg")

    page.select_option("#filters select[name=class_name]", "dent")
    page.select_option("#filters select[name=station_id]", "st-2")
    page.click("#filters button[type=submit]")
    dents = [o for o in fails if o.station_id == "st-2" and any(d.class_name == "dent" for d in o.detections)]
    expect(figs).to_have_count(len(dents))
    assert len(dents) > 0
    assert {f.get_attribute("data-event-id") for f in figs.all()} == {o.event_id for o in dents}

    run = page.locator("#filters select[name=shift_at] option").nth(2)  # the shift before the last one
    page.goto(f"{site.base}/ui/defects?shift_at={run.get_attribute('value')}")
    name = str(run.inner_text()).split(" · ")[0]
    expect(page.locator("h1")).to_contain_text(f"{name} shift from")
    in_shift = [f for f in figs.all()]
    assert in_shift, "the seeded day has defects in every shift"
    for f in in_shift:
        o = next(o for o in fails if o.event_id == f.get_attribute("data-event-id"))
        assert ds.shift_of(o.ts) == name


def test_fleet_figures_for_people(site: SimpleNamespace, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ds.fresh_heartbeats(site.app)
    page.goto(f"{site.base}/ui/fleet")
    healthy = page.locator("tr[data-agent='plate-1-st-1']")
    expect(healthy.locator("td.latency")).to_have_text("8.0 ms / 44 ms")
    expect(healthy.locator("td.fps")).to_have_text("24.9 fps")  # 24.95 as stored in binary
    expect(healthy.locator("td.buffer .depth")).to_have_text("12.0 MiB of 1.0 GiB")
    expect(healthy.locator("td.camera")).to_have_text("ok")
    expect(healthy.locator("td.model")).to_contain_text("v2")
    assert re.fullmatch(
        r"online\s+last heartbeat \d+ s ago, up 5 h 7 min", healthy.locator("td.state").inner_text()
    )

    canary = page.locator("tr[data-agent='plate-1-st-2']")
    expect(canary.locator("td.model")).to_contain_text("v3")
    expect(canary.locator("td.buffer")).to_contain_text("900 MiB of 1.0 GiB (88 %)")
    expect(canary.locator("td.buffer")).to_contain_text("41,873 records waiting")
    expect(canary.locator("td.camera .status")).to_have_text("blur")
    expect(canary.locator("td.camera")).to_contain_text("blur score 12.3 < 50")
    expect(canary.locator("td.alerts a")).to_have_text(["edge-buffer", "camera"])

    offline = page.locator("tr[data-agent='plate-2-st-1']")
    expect(offline).to_have_class("offline")
    expect(offline.locator("td.state")).to_contain_text("OFFLINE")
    expect(offline.locator("td.state")).to_contain_text("last heartbeat 10 min ago")
    expect(offline.locator("td.camera .status")).to_have_text("unknown")
    expect(offline.locator("td.latency")).to_have_text("- / -")
    expect(page.locator("#fleet-summary")).to_contain_text(
        "2 of 3 agents online · 1 offline (offline after 2 min"
    )
    text = page.locator("#fleet").inner_text()
    assert not re.search(r"\d\.\d{3,}", text), f"a raw float on the fleet page: {text}"
    shot(page, tmp_path, "dashboard-fleet.jpg")


def test_an_agents_page_with_its_history(site: SimpleNamespace, page: Any, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from playwright.sync_api import expect

    ds.seed_history(site.app, datetime.now(UTC))
    ds.fresh_heartbeats(site.app)
    page.goto(f"{site.base}/ui/fleet")
    page.click("tr[data-agent='plate-1-st-1'] td a[href='/ui/fleet/plate-1-st-1']")
    page.wait_for_url(f"{site.base}/ui/fleet/plate-1-st-1")
    expect(page.locator("#agent-state")).to_have_text("online")
    expect(page.locator("#agent-now")).to_contain_text("v2")
    expect(page.locator("#agent-periods b")).to_have_text("24 hours")
    page.click("#agent-periods >> text=6 hours")
    page.wait_for_url(f"{site.base}/ui/fleet/plate-1-st-1?hours=6")
    expect(page.locator("#agent-periods")).to_contain_text("buckets of 5 min")
    # the 40 silent minutes break every line: a run before, a run after (the fresh heartbeat joins it)
    expect(page.locator("#chart-fps polyline")).to_have_count(2)
    expect(page.locator("#chart-latency polyline")).to_have_count(4)  # p99 and p50
    expect(page.locator("#chart-latency figcaption")).to_contain_text(
        re.compile(r"p99 \(worst\) \(last \d+ ms\)")
    )
    expect(page.locator("#chart-buffer figcaption")).to_contain_text("deepest (last 310)")
    expect(page.locator("#agent-models")).to_have_text(re.compile(r"^v1 \(from .+\) → v2 \(from .+\)$"))
    text = page.locator("main").inner_text()
    assert not re.search(r"\d\.\d{3,}", text), f"a raw float on the agent page: {text}"
    shot(page, tmp_path, "dashboard-agent.jpg", full_page=True)

    page.goto(f"{site.base}/ui/fleet/nobody")
    expect(page.locator("#agent-missing")).to_contain_text("No heartbeat from agent nobody is stored")


def test_product_page(site: SimpleNamespace, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ds.fresh_heartbeats(site.app)
    page.goto(f"{site.base}/ui/products")
    page.click("#products a:text-is('plate')")
    expect(page.locator("h1")).to_have_text("Product plate")
    champion = page.locator("#champion-card")
    expect(champion).to_have_attribute("data-version", "2")
    expect(champion.locator(".when")).to_contain_text("champion since")
    expect(champion.locator(".scores tr:has-text('mAP50-95') td.num")).to_have_text("0.612")
    expect(page.locator("#challenger-card")).to_have_attribute("data-version", "3")
    expect(page.locator("#challenger-card .scores tr:has-text('recall') td.num")).to_have_text("89.3 %")
    expect(page.locator("#canary-card")).to_have_attribute("data-version", "3")

    flight = page.locator("#product-in-flight")
    expect(flight).to_contain_text("v3 replacing v2: canary stage 1 of 3")
    live = {k: v[1] for k, v in rows_by(page, "#live-figures tr[data-figure]", "data-figure").items()}
    assert live == {
        "canary_fail_rate": "4.4 %",
        "canary_outcomes": "412",
        "champion_fail_rate": "5.1 %",
        "latency_p99_ms": "62 ms",
        "reviews": "9",
    }
    expect(page.locator("#product-history tr[data-kind]")).to_have_count(4)

    outcomes = site.seeded.outcomes
    boxes = ds.expected_boxes(outcomes)
    rates = rows(page, "class-rates")
    assert set(rates) == {"scratch", "dent", "stain", "crack", "missing_hole"}  # every class of the map
    for name, cells in rates.items():
        assert int(cells[1]) == boxes.get(name, 0)
        assert cells[2] == f"{100 * boxes.get(name, 0) / len(outcomes):.2f}"
    expect(page.locator("#class-map tr[data-id]")).to_have_count(5)
    expect(page.locator("#product-agents tr.offline")).to_have_count(1)
    shot(page, tmp_path, "dashboard-product.jpg", full_page=True)

    page.click("#all-rollouts")
    expect(page.locator("#rollout-panel")).to_have_attribute("data-product", "plate")


def rows_by(page: Any, selector: str, attribute: str) -> dict[str, list[str]]:
    return {
        str(tr.get_attribute(attribute)): [c.strip() for c in tr.locator("td").all_inner_texts()]
        for tr in page.locator(selector).all()
    }


def test_alerts_page_lists_and_acknowledges(site: SimpleNamespace, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site.base}/ui/alerts")
    open_rows = page.locator("#open-alerts tr[data-alert-id]")
    expect(open_rows).to_have_count(3)
    offline = page.locator("#open-alerts tr.severity-critical")
    expect(offline).to_contain_text("agent plate-2-st-1 (plate-2/st-1) has sent no heartbeat")
    alert_id = offline.get_attribute("data-alert-id")
    offline.locator("details summary").click()
    expect(offline.locator("details")).to_contain_text("after_s: 1 min")
    shot(page, tmp_path, "dashboard-alerts.jpg")

    offline.locator("button:text-is('Acknowledge')").click()
    expect(page.locator("#alert-message")).to_have_text(f"Alert {alert_id} acknowledged.")
    acked = page.locator(f"#open-alerts tr[data-alert-id='{alert_id}']")
    expect(acked.locator(".acked")).to_contain_text("supervisor-1 at")
    expect(acked.locator("button")).to_have_count(0)
    expect(page.locator("#open-alerts button:text-is('Acknowledge')")).to_have_count(2)

    api = httpx.get(
        f"{site.base}/api/v1/alerts",
        params={"acked": "true"},
        headers={"Authorization": f"Bearer {site.token}"},
        timeout=10,
    ).json()
    assert [(str(a["id"]), a["acked_by"]) for a in api] == [(alert_id, "supervisor-1")]
