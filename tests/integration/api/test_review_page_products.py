"""The review page offers each frame its product's classes (in class-map order, current names; the page's
JSON data) and says when a frame's names are free; the form refuses a class the product lacks, with the reason
on the page."""

from __future__ import annotations

import html
import re

from api.security import COOKIE_NAME, Role
from tests.integration.api.products import make_pcb, store
from tests.integration.api.review_page import page_data
from tests.support.events import detection


def test_review_page_lists_the_products_classes(api_factory) -> None:
    api = api_factory(None)
    make_pcb(api.settings.products_dir)
    pcb = store(api, 1, product="pcb", detections=(detection(class_id=1, class_name="dent"),))
    ghost = store(api, 2, product="ghost", detections=(detection(class_name="blob"),))
    bare = store(api, 3, product=None)
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.SUPERVISOR])

    resp = api.client.get("/ui/review")
    assert resp.status_code == 200, resp.text
    items = {i["event_id"]: i for i in page_data(resp.text)["items"]}
    pcb_item = items[pcb.event_id]
    assert pcb_item["mapped"] and pcb_item["product"] == "pcb"
    assert pcb_item["classes"] == ["scratch", "dent_deep", "pit"]
    # the model's old name shown as the current one
    assert [(b["class_name"], b["model_class"]) for b in pcb_item["boxes"]] == [("dent_deep", "dent")]

    ghost_item = items[ghost.event_id]
    assert not ghost_item["mapped"]
    note = "product ghost has no class map: add it with `factoryloop product create ghost"
    assert note in ghost_item["note"]
    assert "blob" in ghost_item["classes"]
    assert "this frame has no product" in items[bare.event_id]["note"]


def test_review_form_refuses_a_class_the_product_lacks(api_factory) -> None:
    api = api_factory(None)  # no broker: a 400 proves the class was checked before publishing
    make_pcb(api.settings.products_dir)
    o = store(api, 1, product="pcb", detections=(detection(class_name="scratch"),))
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.SUPERVISOR])
    resp = api.client.post(
        f"/ui/review/{o.event_id}",
        data={"action": "correct", "class_0": "crack"},
        follow_redirects=False,
    )
    assert resp.status_code == 400, resp.text
    alert = re.search(r'<p class="error" role="alert" id="review-error">(.*?)</p>', resp.text, re.S)
    assert alert is not None
    assert "'crack' is not a class of product pcb (classes: scratch, dent_deep, pit)" in html.unescape(
        alert[1]
    )
    assert o.event_id in [i["event_id"] for i in page_data(resp.text)["items"]]  # still in the queue
    assert api.get(f"/api/v1/inspections/{o.event_id}").json()["reviews"] == []
