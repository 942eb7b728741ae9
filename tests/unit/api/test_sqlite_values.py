"""The sink's driver-level fast path (api.db.fastpath) binds values exactly as SQLAlchemy would, on SQLite
and PostgreSQL (reads through the ORM agree)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter
from sqlalchemy import JSON, DateTime, create_engine
from sqlalchemy.dialects import postgresql

from api.db.fastpath import _pg_datetimes, _sqlite_datetimes, _sqlite_value
from api.db.types import UtcDateTime

AWARE = TypeAdapter(datetime)
_PG = postgresql.dialect()


def _sqlalchemy_text(v: datetime) -> str:
    engine = create_engine("sqlite://")
    naive = UtcDateTime().process_bind_param(v, engine.dialect)
    process = DateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect)
    assert process is not None
    return process(naive)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 29, 10, 46, 35, 123456, tzinfo=UTC),
        datetime(2026, 6, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),  # converted to 00:00 UTC
        AWARE.validate_json('"2026-03-04T05:06:07.5Z"'),  # pydantic's own UTC tz object (wire events)
        AWARE.validate_json('"2026-03-04T05:06:07-07:00"'),
    ],
)
def test_datetimes_match_sqlalchemy(value: datetime) -> None:
    convert = _sqlite_value(UtcDateTime())
    assert convert is not None
    assert convert(value) == _sqlalchemy_text(value)
    assert convert(value) == convert(value)  # the remembered last value gives the same text


@pytest.mark.parametrize("shared", [False, True])
def test_datetime_columns_match_sqlalchemy_on_both_dialects(shared: bool) -> None:
    values = [
        datetime(2026, 11, 29, 10, 46, 35, 123456, tzinfo=UTC),
        datetime(2026, 11, 29, 10, 0, 0, 1, tzinfo=UTC),  # same hour: its text from the hour's prefix
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC),
        datetime(2026, 6, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
        AWARE.validate_json('"2026-03-04T05:06:07.5Z"'),
        AWARE.validate_json('"2026-03-04T05:06:07-07:00"'),
    ]
    column = [values[0]] * 3 if shared else values  # shared: one object on every row (``ingested_at``)
    assert _sqlite_datetimes(column) == [_sqlalchemy_text(v) for v in column]
    assert _pg_datetimes(column) == [UtcDateTime().process_bind_param(v, _PG) for v in column]


def test_naive_datetimes_are_refused_and_none_passes() -> None:
    convert = _sqlite_value(UtcDateTime())
    assert convert is not None and convert(None) is None
    with pytest.raises(ValueError, match="naive"):
        convert(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        _pg_datetimes([datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1)])


@pytest.mark.parametrize(
    "value", [{"a": 0.5, "b": 0.25}, {"b": 0.25, "a": 0.5}, {"x": [1, 2]}, [1, {"y": 2}], None]
)
def test_json_matches_json_dumps_with_and_without_memo(value: object) -> None:
    convert = _sqlite_value(JSON())
    assert convert is not None
    expected = None if value is None else json.dumps(value)
    assert convert(value) == expected
    assert convert(value) == expected  # second call: from the memo where the value is hashable


def test_json_memo_keeps_key_order_apart() -> None:
    convert = _sqlite_value(JSON())
    assert convert is not None
    assert convert({"a": 1, "b": 2}) == '{"a": 1, "b": 2}'
    assert convert({"b": 2, "a": 1}) == '{"b": 2, "a": 1}'


def test_json_memo_tells_equal_numbers_of_other_types_apart() -> None:
    convert = _sqlite_value(JSON())
    assert convert is not None
    assert [convert({"a": v}) for v in (1, 1.0, True, 1)] == [
        '{"a": 1}',
        '{"a": 1.0}',
        '{"a": true}',
        '{"a": 1}',
    ]
    assert [convert({k: 0.5}) for k in (1, 1.0, True, 1)] == [
        '{"1": 0.5}',
        '{"1.0": 0.5}',
        '{"true": 0.5}',
        '{"1": 0.5}',
    ]
    assert [convert({"a": v}) for v in ((1,), (1.0,))] == ['{"a": [1]}', '{"a": [1.0]}']
