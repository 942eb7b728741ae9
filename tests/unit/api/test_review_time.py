"""The review page's measured review time (api.web.review.review_ms): the script's value, else the time since
the server rendered the page; nothing for malformed, negative or idle (over an hour) values."""

from __future__ import annotations

import pytest

from api.services.review_queue import QueueOrder
from api.web.review import page_url, queue_order, review_ms

NOW = 1_800_000_000_000


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"review_ms": "2500", "shown_at": str(NOW - 9000)}, 2500),  # the script's measurement wins
        ({"review_ms": "2500.7"}, 2500),
        ({"review_ms": "", "shown_at": str(NOW - 9000)}, 9000),  # no script: since the render
        ({"shown_at": str(NOW)}, 0),
        ({}, None),
        ({"review_ms": "soon"}, None),
        ({"shown_at": "yesterday"}, None),
        ({"review_ms": "-5"}, None),
        ({"shown_at": str(NOW + 1000)}, None),  # a clock ahead of ours
        ({"review_ms": "3600000"}, 3_600_000),
        ({"review_ms": "3600001"}, None),  # an idle page, not a review
    ],
)
def test_review_ms(form: dict[str, str], expected: int | None) -> None:
    assert review_ms(form, now_ms=NOW) == expected


@pytest.mark.parametrize(
    ("value", "order", "url"),
    [
        (None, QueueOrder.PRIORITY, "/ui/review?order=priority"),
        ("newest", QueueOrder.NEWEST, "/ui/review?order=newest"),
        ("oldest", QueueOrder.OLDEST, "/ui/review?order=oldest"),
        ("<script>", QueueOrder.PRIORITY, "/ui/review?order=priority"),
    ],
)
def test_queue_order_and_page_url(value: str | None, order: QueueOrder, url: str) -> None:
    assert queue_order(value) is order
    assert page_url(order, None) == url
    assert page_url(order, "line 1&x") == url + "&line_id=line+1%26x"
