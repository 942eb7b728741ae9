"""The review page offers each frame its product's classes (in class-map order, current names) and says
when a frame's names are free; the form refuses a class the product lacks, with the reason on the page."""

from __future__ import annotations

import html
import re

from api.security import COOKIE_NAME, Role
from tests.integration.api.products import make_pcb, store
from tests.support.events import detection


def article(page: str, event_id: str) -> str:
    start = page.index(f'data-event-id="{event_id}"')
    return page[start : page.index("</article>", start)]


def test_review_page_lists_the_products_classes(api_factory) -> None:
    api = api_factory(None)
    make_pcb(api.settings.products_dir)
    pcb = store(api, 1, product="pcb", detections=(detection(class_id=1, class_name="dent"),))
    ghost = store(api, 2, product="ghost", detections=(detection(class_name="blob"),))
    bare = store(api, 3, product=None)
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.SUPERVISOR])

    resp = api.client.get("/ui/review")
    assert resp.status_code == 200, resp.text
    page = resp.text
    pcb_item = article(page, pcb.event_id)
    list_id = re.search(r'data-class-list="([^"]+)"', pcb_item)
    assert list_id is not None
    datalist = re.search(rf'<datalist id="{list_id[1]}">(.*?)</datalist>', page)
    assert datalist is not None
    assert re.findall(r'<option value="([^"]+)">', datalist[1]) == ["scratch", "dent_deep", "pit"]
    assert "Classes of product <b>pcb</b>: scratch, dent_deep, pit" in pcb_item
    assert 'value="dent_deep"' in pcb_item  # the model's old name shown as the current one

    ghost_item = html.unescape(article(page, ghost.event_id))
    assert "product ghost has no class map: add it with `factoryloop product create ghost" in ghost_item
    assert 'data-class-list="classes"' in ghost_item
    free = re.search(r'<datalist id="classes">(.*?)</datalist>', page)
    assert free is not None and "blob" in free[1]
    assert "this frame has no product" in article(page, bare.event_id)


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
    assert f'data-event-id="{o.event_id}"' in resp.text  # still in the queue
    assert api.get(f"/api/v1/inspections/{o.event_id}").json()["reviews"] == []
