"""One product per agent and rules against model classes: the decisions, the manager's refusals (real tiny
ONNX models through the real fetch/sha256/load path), the watcher's choice, and validate-config's messages."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from edge_agent.cli import app
from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
from edge_agent.models.compat import missing_classes, product_problem, read_model_info
from edge_agent.models.manager import LoadedModel, ModelManager
from edge_agent.models.store import ModelStore
from edge_agent.models.watcher import DeploymentWatcher
from edge_agent.settings import AgentSettings
from factoryloop.schemas import AgentEventType, Deployment, ModelRef, Strategy
from factoryloop.settings import KafkaSettings
from tests.support.edge_onnx import CLASS_NAMES, write_constant_model, yolo_output
from tests.support.events import deployment

pytest.importorskip("onnx")


def tiny_model(
    path: Path, *, product: str | None = None, class_names: Sequence[str] = CLASS_NAMES, imgsz: int = 160
) -> Path:
    """A synthetic 'nothing detected' model; its metadata says ``product`` (training writes it) when given."""
    import onnx

    write_constant_model(path, yolo_output([], len(class_names)), imgsz=imgsz, class_names=class_names)
    if product is not None:
        model = onnx.load(str(path))
        entry = model.metadata_props.add()
        entry.key, entry.value = "product", product
        onnx.save(model, str(path))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("agent", "dep", "model", "needle"),
    [
        (None, None, None, None),
        (None, "pcb", None, None),  # an agent without a product accepts any (today's behaviour)
        (None, None, "pcb", None),
        (None, "pcb", "pcb", None),
        ("steel_plate", None, None, None),  # made before products: nothing says otherwise
        ("steel_plate", "steel_plate", None, None),
        ("steel_plate", None, "steel_plate", None),
        ("steel_plate", "steel_plate", "steel_plate", None),
        (
            "steel_plate",
            "pcb",
            None,
            "deployment is for product 'pcb', this agent serves product 'steel_plate'",
        ),
        ("steel_plate", None, "pcb", "model is for product 'pcb', this agent serves product 'steel_plate'"),
        ("steel_plate", "steel_plate", "pcb", "the deployment is for product 'steel_plate' but its model"),
        (None, "steel_plate", "pcb", "the deployment is for product 'steel_plate' but its model's metadata"),
        ("steel_plate", "Steel_plate", None, "deployment is for product 'Steel_plate'"),  # names are exact
    ],
)
def test_product_problem(agent: str | None, dep: str | None, model: str | None, needle: str | None) -> None:
    problem = product_problem(agent, dep, model)
    if needle is None:
        assert problem is None
    else:
        assert problem is not None and needle in problem


@pytest.mark.parametrize(
    ("rules", "names", "missing"),
    [
        ((), ("a", "b"), []),
        (("a",), ("a", "b"), []),
        (("crack", "a", "hole"), ("a", "b"), ["crack", "hole"]),
        (("a",), (), ["a"]),
    ],
)
def test_missing_classes(rules: tuple[str, ...], names: tuple[str, ...], missing: list[str]) -> None:
    assert missing_classes(rules, names) == missing


class Manager:
    """A real ModelManager serving a 'local' model, recording the events it reports."""

    def __init__(self, tmp: Path, product: str | None, rule_classes: Sequence[str] = ()) -> None:
        self.tmp = tmp
        self.events: list[tuple[AgentEventType, str, str | None]] = []
        det = OnnxDetector(tiny_model(tmp / "initial.onnx", product=product), DetectorOptions(warmup_runs=0))
        initial = LoadedModel(
            det, ModelRef(name="initial", version="local", sha256=det.sha256), None, product
        )
        self.manager = ModelManager(
            initial,
            DetectorOptions(warmup_runs=0),
            ModelStore(tmp / "state"),
            AgentSettings(state_dir=tmp / "state"),
            on_event=lambda kind, _dep, _ref, detail, reason: self.events.append((kind, detail, reason)),
            product=product,
            rule_classes=rule_classes,
        )

    def deployment(self, version: str, **model: Any) -> Deployment:
        """A deployment of a model file made with ``model`` (tiny_model's keywords; ``dep_product`` for the
        deployment's own product field)."""
        dep_product = model.pop("dep_product", None)
        path = tiny_model(self.tmp / f"v{version}.onnx", **model)
        names = tuple(model.get("class_names", CLASS_NAMES))
        return deployment(
            deployment_id=f"dep-{version}".ljust(8, "0"),
            model_version=version,
            artifact_uri=path.as_uri(),
            sha256=sha256_of(path),
            class_names=names,
            imgsz=160,
            product=dep_product,
        )


@pytest.mark.parametrize(
    ("agent", "rules", "model", "reason", "needle"),
    [
        ("steel_plate", (), {"dep_product": "steel_plate", "product": "steel_plate"}, None, None),
        ("steel_plate", (), {}, None, None),  # a deployment and a model made before products
        (None, (), {"dep_product": "pcb", "product": "pcb"}, None, None),  # no product configured: any
        ("steel_plate", (), {"dep_product": "pcb"}, "product", "deployment is for product 'pcb'"),
        ("steel_plate", (), {"product": "pcb"}, "product", "model is for product 'pcb'"),
        (None, (), {"dep_product": "steel_plate", "product": "pcb"}, "product", "its model's metadata says"),
        ("steel_plate", ("crack",), {}, None, None),
        (
            "steel_plate",
            ("crack", "dent", "rust"),
            {"class_names": ("dent", "hole")},
            "classes",
            "the model lacks crack, rust named by rules.classes (model classes: dent, hole)",
        ),
    ],
)
def test_manager_refuses_what_does_not_fit_and_keeps_serving(
    tmp_path: Path,
    agent: str | None,
    rules: tuple[str, ...],
    model: dict[str, Any],
    reason: str | None,
    needle: str | None,
) -> None:
    m = Manager(tmp_path, agent, rules)
    dep = m.deployment("2", **model)
    accepted = m.manager.apply(dep)
    kind, detail, got_reason = m.events[-1]
    if reason is None:
        assert accepted and kind is AgentEventType.MODEL_LOADED and got_reason is None, m.events
        assert m.manager.current.ref.version == "2" and m.manager.swaps == 1
        assert m.manager.current.product == (model.get("product") or model.get("dep_product"))
        assert ModelStore(tmp_path / "state").load().product == m.manager.current.product  # type: ignore[union-attr]
    else:
        assert not accepted and kind is AgentEventType.MODEL_REJECTED and got_reason == reason
        assert needle is not None and needle in detail and needle in (m.manager.last_error or "")
        assert m.manager.current.ref.version == "local" and m.manager.rejected == 1 and m.manager.swaps == 0
        assert ModelStore(tmp_path / "state").load() is None  # nothing persisted


def test_a_deployment_of_another_product_is_not_even_fetched(tmp_path: Path) -> None:
    m = Manager(tmp_path, "steel_plate")
    dep = m.deployment("2", dep_product="pcb").model_copy(update={"artifact_uri": "file:///nonexistent.onnx"})
    assert not m.manager.apply(dep)
    assert m.events[-1][2] == "product"  # not "fetch": refused before any download


@pytest.mark.parametrize(
    ("target", "strategy", "refused"),
    [
        ("line-1", "full", True),  # sent to this agent's line: a mistake, refused and counted
        ("fleet", "canary", True),  # this agent named as a canary of another product: refused
        ("fleet", "full", False),  # the other product's rollout to its own agents: not for this one
    ],
)
def test_watcher_applies_its_product_and_refuses_the_other_in_one_poll(
    tmp_path: Path, target: str, strategy: str, refused: bool
) -> None:
    """A deployment of another product, newer than the line's own, does not hide it; it is refused only when
    it is addressed to this agent."""
    m = Manager(tmp_path, "steel_plate")
    own = m.deployment("2", dep_product="steel_plate").model_copy(update={"target": "line-1"})
    other = m.deployment("3", dep_product="pcb", product="pcb").model_copy(
        update={"target": target, "strategy": Strategy(strategy), "canary_agents": ("agent-1",)}
    )
    assert other.ts > own.ts
    watcher = DeploymentWatcher(KafkaSettings(), m.manager, "agent-1", "line-1")
    watcher.handle([own, other])
    assert m.manager.current.ref.version == "2"
    expected = [(AgentEventType.MODEL_LOADED, None)] + [(AgentEventType.MODEL_REJECTED, "product")] * refused
    assert [(k, r) for k, _d, r in m.events] == expected
    assert m.manager.rejected == int(refused)
    watcher.handle([own, other])  # the same records again (a reconnect): nothing new
    assert len(m.events) == len(expected)


def test_read_model_info(tmp_path: Path) -> None:
    info = read_model_info(tiny_model(tmp_path / "m.onnx", product="pcb", class_names=("a", "b")))
    assert (info.class_names, info.product) == (("a", "b"), "pcb")
    bare = read_model_info(write_constant_model(tmp_path / "n.onnx", yolo_output([], 2), class_names=None))
    assert (bare.class_names, bare.product) == (None, None)


BASE: dict[str, Any] = {
    "agent_id": "a1",
    "line_id": "l1",
    "station_id": "s1",
    "product": "steel_plate",
    "source": {"type": "simulated"},
    "detector": {"onnx": "m.onnx"},
    "rules": {"classes": {"dent": {"confidence": 0.4}}},
}


@pytest.mark.parametrize(
    ("config", "model", "code", "needles"),
    [
        ({}, {"product": "steel_plate"}, 0, ["OK", "product steel_plate", "model checked"]),
        ({}, {}, 0, ["OK", "model checked"]),  # a model exported before products says nothing
        ({}, None, 0, ["OK", "model file absent: not checked"]),
        ({"product": None}, {"product": "pcb"}, 0, ["OK", "product any"]),
        (
            {},
            {"product": "pcb"},
            1,
            ["1 problem(s)", "product: 'steel_plate', but model m.onnx is of product 'pcb'"],
        ),
        (
            {"rules": {"classes": {"dent": {}, "crack": {}, "rust": {}}}},
            {"class_names": ("scratch", "dent")},
            1,
            [
                "2 problem(s)",
                "rules.classes.crack: not a class of model m.onnx (classes: scratch, dent)",
                "rules.classes.rust: not a class of model m.onnx (classes: scratch, dent)",
            ],
        ),
        (
            {"rules": {"classes": {"crack": {}}}},
            {"class_names": ("dent",), "product": "pcb"},
            1,
            ["2 problem(s)", "rules.classes.crack: not a class of model m.onnx", "product: 'steel_plate'"],
        ),
    ],
)
def test_validate_config_checks_the_model(
    tmp_path: Path, config: dict[str, Any], model: dict[str, Any] | None, code: int, needles: list[str]
) -> None:
    if model is not None:
        tiny_model(tmp_path / "m.onnx", **model)
    path = tmp_path / "line.yaml"
    path.write_text(yaml.safe_dump(BASE | config))
    result = CliRunner().invoke(app, ["validate-config", str(path)])
    assert result.exit_code == code, result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_validate_config_model_without_names(tmp_path: Path) -> None:
    write_constant_model(tmp_path / "m.onnx", yolo_output([], 2), class_names=None)
    path = tmp_path / "line.yaml"
    path.write_text(yaml.safe_dump(BASE))
    result = CliRunner().invoke(app, ["validate-config", str(path)])
    assert result.exit_code == 1
    assert "detector.class_names: model m.onnx has no 'names' metadata; set them" in result.output


def test_start_skips_a_persisted_model_of_another_product_and_refuses_a_configured_one(
    tmp_path: Path,
) -> None:
    from edge_agent.agent import initial_model
    from edge_agent.config import parse_config
    from edge_agent.errors import AgentConfigError

    store = ModelStore(tmp_path / "state")
    pcb = tiny_model(tmp_path / "pcb.onnx", product="pcb")
    store.save(pcb, ModelRef(name="m", version="9", sha256=sha256_of(pcb)), CLASS_NAMES, 160, "dep-9", "pcb")
    options = DetectorOptions(warmup_runs=0)

    def config(onnx: Path, product: str | None) -> Any:
        return parse_config(BASE | {"product": product, "detector": {"onnx": str(onnx)}})

    steel = tiny_model(tmp_path / "steel.onnx", product="steel_plate")
    served = initial_model(config(steel, "steel_plate"), options, store)
    assert (served.ref.version, served.product) == ("local", "steel_plate")  # not the persisted pcb model
    assert initial_model(config(steel, None), options, store).ref.version == "9"  # any product: persisted
    with pytest.raises(
        AgentConfigError, match="model is for product 'pcb', this agent serves product 'steel"
    ):
        initial_model(config(pcb, "steel_plate"), options, ModelStore(tmp_path / "empty"))
