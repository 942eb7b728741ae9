"""Errors of the product catalog. Each message says what was wrong and what to do."""

from __future__ import annotations

from factoryloop.errors import FactoryloopError


class ProductError(FactoryloopError):
    """Base of the product catalog's errors."""


class ProductNotFoundError(ProductError):
    """No product of that name in the catalog."""


class ClassMapError(ProductError):
    """A change of a class map that would break it (a name taken twice, an unknown class, ...)."""


class ClassMapConflictError(ClassMapError):
    """A dataset's classes do not fit the product's class map; the message says how to map them."""
