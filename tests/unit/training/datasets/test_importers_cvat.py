"""CVAT for images 1.1 importer: boxes, polygon/ellipse/mask extents, subsets as splits, refused shapes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from training.datasets import CorruptFileError, DatasetError, get_importer

W, H = 64, 48


def _jpeg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((H, W, 3), 127, np.uint8))


def _xml(images: str, labels=("scratch", "crack"), owner: str = "task") -> str:
    label_xml = "".join(f"<label><name>{n}</name><color>#fff</color></label>" for n in labels)
    meta = f"<meta><{owner}><name>t</name><labels>{label_xml}</labels></{owner}></meta>" if labels else ""
    head = '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version>'
    return f"{head}{meta}{images}</annotations>"


def _image(name: str, shapes: str = "", subset: str | None = None, size=(W, H), iid: int = 0) -> str:
    sub = f' subset="{subset}"' if subset is not None else ""
    return f'<image id="{iid}" name="{name}" width="{size[0]}" height="{size[1]}"{sub}>{shapes}</image>'


def _dataset(
    root: Path, xml: str, images=("a.jpg",), folder: str = "images", xml_name="annotations.xml"
) -> Path:
    for name in images:
        _jpeg(root / folder / name)
    root.mkdir(parents=True, exist_ok=True)
    (root / xml_name).write_text(xml)
    return root


@pytest.mark.parametrize(
    ("shape", "want"),
    [
        (
            '<box label="crack" occluded="0" xtl="4.5" ytl="5" xbr="20" ybr="30" z_order="0"></box>',
            (4.5, 5, 20, 30),
        ),
        ('<box label="crack" xtl="10" ytl="10" xbr="30" ybr="20" rotation="90.0"></box>', (15, 5, 25, 25)),
        ('<polygon label="crack" points="10.0,12.0;30.5,14.0;20.0,40.0"></polygon>', (10, 12, 30.5, 40)),
        ('<polygon label="crack" points="-5,12;30,14;80,60"></polygon>', (0, 12, 64, 48)),
        ('<ellipse label="crack" cx="30" cy="20" rx="10" ry="5"></ellipse>', (20, 15, 40, 25)),
        ('<mask label="crack" rle="3, 4, 5" left="8" top="9" width="10" height="11"></mask>', (8, 9, 18, 20)),
    ],
)
def test_shapes_become_boxes(tmp_path, shape, want) -> None:
    root = _dataset(tmp_path, _xml(_image("a.jpg", shape + '<tag label="scratch" source="manual"></tag>')))
    plan = get_importer("cvat")(root)
    assert plan.format == "cvat" and plan.class_names == ("scratch", "crack")
    (box,) = plan.images[0].boxes
    assert box.class_name == "crack"
    assert np.allclose((box.x1, box.y1, box.x2, box.y2), want)


def test_subsets_are_splits_and_images_are_found(tmp_path) -> None:
    images = "".join(
        _image(n, subset=s, iid=i)
        for i, (n, s) in enumerate(
            [
                ("t.jpg", "Train"),
                ("v.jpg", "Validation"),
                ("s.jpg", "TEST"),
                ("d.jpg", "default"),
                ("x.jpg", None),
            ]
        )
    )
    root = _dataset(tmp_path, _xml(images, owner="project"), images=("t.jpg", "v.jpg", "s.jpg", "d.jpg"))
    _jpeg(tmp_path / "x.jpg")  # next to the XML
    plan = get_importer("cvat")(root)
    assert {p.path.stem: p.split for p in plan.images} == {
        "t": "train",
        "v": "val",
        "s": "test",
        "d": None,
        "x": None,
    }
    assert all(p.boxes == () for p in plan.images)


def test_images_under_images_subset_folder_and_one_xml(tmp_path) -> None:
    xml = _xml(
        _image("t.jpg", '<box label="a" xtl="1" ytl="1" xbr="5" ybr="5"></box>', subset="Train"), labels=()
    )
    root = _dataset(tmp_path, xml, images=("t.jpg",), folder="images/Train", xml_name="export.xml")
    (img,) = get_importer("cvat")(root).images
    assert img.split == "train" and img.path.parent.name == "Train"


@pytest.mark.parametrize(
    ("shape", "what"),
    [
        (
            '<polyline label="crack" points="1,1;5,5;9,1"></polyline>',
            "polyline #1 label 'crack': <polyline> is not",
        ),
        (
            '<points label="crack" points="1,1"></points>',
            "points #1 label 'crack': <points> is not supported",
        ),
        (
            '<polygon label="crack" points="1,1;5,5"></polygon>',
            "polygon #1 label 'crack': polygon needs at least 3",
        ),
        ('<polygon label="crack" points="1,1;5,x;3,3"></polygon>', "points must be 'x1,y1;x2,y2;...'"),
        ('<box label="crack" xtl="5" ytl="1" xbr="5" ybr="9"></box>', "degenerate shape"),
        (
            '<box label="crack" xtl="a" ytl="1" xbr="5" ybr="9"></box>',
            "attribute xtl must be a number, got 'a'",
        ),
        ('<box label="rust" xtl="1" ytl="1" xbr="5" ybr="9"></box>', "label is not in the task's labels"),
        ('<box label="crack" xtl="70" ytl="1" xbr="75" ybr="9"></box>', "shape lies outside the 64x48 image"),
    ],
)
def test_bad_shapes_name_image_and_element(tmp_path, shape, what) -> None:
    root = _dataset(tmp_path, _xml(_image("a.jpg", shape, iid=3)))
    with pytest.raises(CorruptFileError) as err:
        get_importer("cvat")(root)
    assert "annotations.xml: image 'a.jpg' (id 3)" in str(err.value) and what in str(err.value)
    assert "[" not in str(err.value)


@pytest.mark.parametrize(
    ("xml", "what"),
    [
        (_xml(_image("gone.jpg")), "image 'gone.jpg' (id 0): file not found"),
        (_xml(_image("a.jpg", size=(60, 48))), "image 'a.jpg' is 64x48, the XML says 60x48"),
        (_xml("<track id='0' label='crack'></track>"), "CVAT for video"),
        ("<annotation></annotation>", "expected <annotations>"),
        ("<annotations><image", "invalid XML"),
        (_xml(""), "no <image> elements"),
    ],
)
def test_bad_files(tmp_path, xml, what) -> None:
    with pytest.raises(DatasetError) as err:
        get_importer("cvat")(_dataset(tmp_path, xml))
    assert what in str(err.value) and "[" not in str(err.value)


def test_several_xml_without_annotations_xml_is_refused(tmp_path) -> None:
    (tmp_path / "a.xml").write_text(_xml(""))
    (tmp_path / "b.xml").write_text(_xml(""))
    with pytest.raises(DatasetError, match=r"exactly one CVAT \.xml, found 2"):
        get_importer("cvat")(tmp_path)
