"""A product and its class map: ordered classes with stable ids, append-only, every change recorded.

Ids never change and are never reused: a model trained on version N of the map stays comparable with one
trained on version N+1. A new class gets the next id; a rename keeps the id (the old name is remembered, so
labels stored under it still count); a merge retires a class into another (its slot stays in the map so the
ids after it keep their place; its labels count as the class it was merged into).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from factoryloop.products.errors import ClassMapError

ProductName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
#: A class name: what a supervisor reads and ONNX metadata carries. No commas or '=' (CLI lists and maps).
ClassName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^,=\s]([^,=]*[^,=\s])?$")]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_CLASS_NAME = re.compile(r"^[^,=\s]([^,=]*[^,=\s])?$")


def check_class_names(names: Sequence[str]) -> None:
    """:class:`ClassMapError` naming each bad class name (1-64 characters, no comma, '=' or outer spaces)."""
    bad = [n for n in names if not (len(n) <= 64 and _CLASS_NAME.match(n))]
    if bad:
        raise ClassMapError(
            f"invalid class names {', '.join(repr(n) for n in bad)}: a class name has 1-64 characters, "
            "no comma or '=', and no space at either end"
        )
    dup = sorted({n for n in names if list(names).count(n) > 1})
    if dup:
        raise ClassMapError(f"class names repeated: {', '.join(dup)}")


def _now() -> datetime:
    return datetime.now(UTC)


class ProductClass(BaseModel):
    model_config = _FROZEN

    id: int = Field(ge=0)
    name: ClassName
    former_names: tuple[ClassName, ...] = ()
    merged_into: int | None = Field(default=None, description="Retired: its labels count as this class id.")


class ClassMapChange(BaseModel):
    """One recorded change of a product: what, when, by whom."""

    model_config = _FROZEN

    action: Literal["create", "add_class", "rename_class", "merge_class", "describe"]
    detail: str
    at: datetime = Field(default_factory=_now)
    by: str = "cli"


class Product(BaseModel):
    """One product of the plant (``pcb``, ``steel_plate``): a name, a description and its class map."""

    model_config = _FROZEN

    schema_version: Literal[1] = 1
    name: ProductName
    description: str = Field(default="", max_length=2000)
    classes: tuple[ProductClass, ...] = Field(min_length=1)
    history: tuple[ClassMapChange, ...] = ()

    @model_validator(mode="after")
    def _check_map(self) -> Product:
        ids = [c.id for c in self.classes]
        if ids != list(range(len(ids))):
            raise ValueError(f"class ids must be 0..{len(ids) - 1} in order, got {ids}")
        seen: dict[str, int] = {}
        for c in self.classes:
            for n in (c.name, *c.former_names):
                if seen.setdefault(n, c.id) != c.id:
                    raise ValueError(f"class name {n!r} is used by class ids {seen[n]} and {c.id}")
            if c.merged_into is not None:
                target = self.classes[c.merged_into] if c.merged_into < len(self.classes) else None
                if target is None or target.merged_into is not None or target.id == c.id:
                    raise ValueError(
                        f"class {c.name!r} is merged into {c.merged_into}, not an active class id"
                    )
        return self

    # reading ---------------------------------------------------------------------------------------------
    @property
    def class_names(self) -> tuple[str, ...]:
        """Names in id order: a model's ``names`` (retired classes keep their slot)."""
        return tuple(c.name for c in self.classes)

    @property
    def active_class_names(self) -> tuple[str, ...]:
        """The classes a supervisor can choose (retired ones left out)."""
        return tuple(c.name for c in self.classes if c.merged_into is None)

    def resolve(self, name: str) -> int | None:
        """The class id that a label named ``name`` counts as (current or former names; merges followed)."""
        for c in self.classes:
            if name == c.name or name in c.former_names:
                return c.merged_into if c.merged_into is not None else c.id
        return None

    def class_id(self, name: str) -> int:
        cid = self.resolve(name)
        if cid is None:
            raise ClassMapError(
                f"{name!r} is not a class of product {self.name} "
                f"(classes: {', '.join(self.active_class_names)}); "
                f"add it with `factoryloop product add-class {self.name} {name}`"
            )
        return cid

    def canonical(self, name: str) -> str:
        """The current name of the class a label named ``name`` counts as."""
        return self.classes[self.class_id(name)].name

    def _find(self, name: str) -> ProductClass:
        for c in self.classes:
            if c.name == name:
                return c
        former = [c.name for c in self.classes if name in c.former_names]
        hint = f" (it was renamed to {former[0]!r})" if former else ""
        raise ClassMapError(
            f"product {self.name} has no class {name!r}{hint}; classes: {', '.join(self.class_names)}"
        )

    # changing (each returns a new product with the change recorded) -------------------------------------
    def _changed(self, classes: tuple[ProductClass, ...], change: ClassMapChange) -> Product:
        try:
            return self.model_validate(
                {**self.model_dump(), "classes": classes, "history": (*self.history, change)}
            )
        except ValueError as exc:
            raise ClassMapError(f"product {self.name}: {exc}") from exc

    def with_classes_added(self, names: list[str] | tuple[str, ...], *, by: str = "cli") -> Product:
        check_class_names(names)
        taken = [n for n in names if self.resolve(n) is not None]
        if taken:
            raise ClassMapError(
                f"product {self.name} already has classes {', '.join(taken)} (current or former names); "
                "a class name is never reused"
            )
        start = len(self.classes)
        added = tuple(ProductClass(id=start + i, name=n) for i, n in enumerate(names))
        detail = ", ".join(f"{c.name}={c.id}" for c in added)
        return self._changed(
            (*self.classes, *added), ClassMapChange(action="add_class", detail=detail, by=by)
        )

    def with_class_renamed(self, old: str, new: str, *, by: str = "cli") -> Product:
        cls = self._find(old)
        check_class_names([new])
        if old == new:
            raise ClassMapError(f"class {old!r} already has that name")
        owner = self.resolve(new)
        if owner is not None and owner != cls.id:
            raise ClassMapError(
                f"cannot rename {old!r} to {new!r}: {new!r} is already a class of product {self.name} "
                f"(id {owner}); to count {old!r} as {new!r} use "
                f"`factoryloop product merge-class {self.name} {old} --into {new}`"
            )
        renamed = cls.model_copy(
            update={"name": new, "former_names": tuple(n for n in (*cls.former_names, old) if n != new)}
        )
        classes = tuple(renamed if c.id == cls.id else c for c in self.classes)
        change = ClassMapChange(action="rename_class", detail=f"{old} -> {new} (id {cls.id})", by=by)
        return self._changed(classes, change)

    def with_class_merged(self, source: str, into: str, *, by: str = "cli") -> Product:
        src, dst = self._find(source), self._find(into)
        if src.id == dst.id:
            raise ClassMapError(f"cannot merge {source!r} into itself")
        if src.merged_into is not None or dst.merged_into is not None:
            raise ClassMapError(f"{source!r} or {into!r} is already merged; merge into an active class")
        if any(c.merged_into == src.id for c in self.classes):
            raise ClassMapError(f"classes were merged into {source!r}; merge those into {into!r} first")
        classes = tuple(
            c.model_copy(update={"merged_into": dst.id}) if c.id == src.id else c for c in self.classes
        )
        change = ClassMapChange(
            action="merge_class", detail=f"{source} ({src.id}) -> {into} ({dst.id})", by=by
        )
        return self._changed(classes, change)

    def with_description(self, description: str, *, by: str = "cli") -> Product:
        change = ClassMapChange(action="describe", detail=description[:200], by=by)
        return self.model_validate(
            {**self.model_dump(), "description": description, "history": (*self.history, change)}
        )


def new_product(
    name: str, class_names: list[str] | tuple[str, ...], *, description: str = "", by: str = "cli"
) -> Product:
    """A product with ``class_names`` as ids 0..n-1; :class:`ClassMapError` on a bad name or a repeat."""
    check_class_names(class_names)
    try:
        return Product(
            name=name,
            description=description,
            classes=tuple(ProductClass(id=i, name=n) for i, n in enumerate(class_names)),
            history=(ClassMapChange(action="create", detail=", ".join(class_names), by=by),),
        )
    except ValueError as exc:
        raise ClassMapError(f"product {name!r}: {_first_error(exc)}") from exc


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        items = errors()
        if items:
            loc = ".".join(str(p) for p in items[0].get("loc", ()))
            return f"{loc}: {items[0].get('msg')} (got {items[0].get('input')!r})"
    return str(exc)
