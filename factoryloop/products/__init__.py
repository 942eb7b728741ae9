"""Products and their class maps: the single source of truth every process reads (see catalog.py)."""

from factoryloop.products.catalog import ProductCatalog, default_catalog_root
from factoryloop.products.errors import (
    ClassMapConflictError,
    ClassMapError,
    ProductError,
    ProductNotFoundError,
)
from factoryloop.products.fit import ClassFit, fit_classes, parse_class_map
from factoryloop.products.model import ClassMapChange, Product, ProductClass, new_product

__all__ = [
    "ClassFit",
    "ClassMapChange",
    "ClassMapConflictError",
    "ClassMapError",
    "Product",
    "ProductCatalog",
    "ProductClass",
    "ProductError",
    "ProductNotFoundError",
    "default_catalog_root",
    "fit_classes",
    "new_product",
    "parse_class_map",
]
