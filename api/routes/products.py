"""Products and their class maps, read from the product catalog (``factoryloop.products``; written by the
``factoryloop product`` and ``factoryloop dataset import --product`` commands, never by the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from api.context import AppContext, get_ctx
from api.routes.common import ERRORS, ErrorOut
from api.security import Role, needs
from api.services.products import get_product, list_products
from factoryloop.products import Product

router = APIRouter(prefix="/products", tags=["products"], responses=ERRORS)

ProductName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$")]


class ClassOut(BaseModel):
    id: int = Field(description="Stable: never changes, never reused.")
    name: str = Field(description="The current name.")
    active: bool = Field(description="False once merged into another class (its slot keeps its id).")
    former_names: list[str] = Field(description="Names it had before renames; labels under them count.")
    merged_into: int | None = Field(description="Retired: its labels count as this class id.")


class ProductOut(BaseModel):
    name: str
    description: str
    classes: list[ClassOut] = Field(description="In id order (a model's class names), retired ones included.")
    active_class_names: list[str] = Field(description="The classes a reviewer can choose, in id order.")


class ChangeOut(BaseModel):
    action: str
    detail: str
    at: datetime
    by: str


class ProductDetail(ProductOut):
    history: list[ChangeOut]


def product_out(p: Product) -> ProductOut:
    classes = [
        ClassOut(
            id=c.id,
            name=c.name,
            active=c.merged_into is None,
            former_names=list(c.former_names),
            merged_into=c.merged_into,
        )
        for c in p.classes
    ]
    return ProductOut(
        name=p.name,
        description=p.description,
        classes=classes,
        active_class_names=list(p.active_class_names),
    )


@router.get("", response_model=list[ProductOut], summary="Products", **needs(Role.SUPERVISOR))
def products(ctx: Annotated[AppContext, Depends(get_ctx)]) -> list[ProductOut]:
    """Every product of the catalog (by name) with its class map."""
    return [product_out(p) for p in list_products(ctx.products)]


@router.get(
    "/{name}",
    response_model=ProductDetail,
    summary="A product's class map",
    responses={404: {"model": ErrorOut, "description": "No such product (the message names the known ones)"}},
    **needs(Role.SUPERVISOR),
)
def product(name: ProductName, ctx: Annotated[AppContext, Depends(get_ctx)]) -> ProductDetail:
    """The class map with its recorded changes (create, add, rename, merge, describe), oldest first."""
    p = get_product(ctx.products, name)
    history = [ChangeOut(action=h.action, detail=h.detail, at=h.at, by=h.by) for h in p.history]
    return ProductDetail(**product_out(p).model_dump(), history=history)
