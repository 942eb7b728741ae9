"""The declarative base of every table, and the row id type of the tables that grow with traffic."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import DeclarativeBase

# Row ids of the tables that grow with the lines' traffic: 64-bit on PostgreSQL (a 32-bit serial runs out
# after 2.1 billion outcomes: weeks for a busy plant); on SQLite an INTEGER PRIMARY KEY is the 64-bit rowid.
EventId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass
