import hashlib
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from mlcore.datasets.demo import CLASS_NAMES, DemoDataError, make_demo_dataset, render_sample


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout_yaml_and_split_counts(tmp_path: Path) -> None:
    summary = make_demo_dataset(tmp_path / "demo", images=40, imgsz=128)
    assert summary.images == {"train": 28, "val": 8, "test": 4}
    data = yaml.safe_load(summary.data_yaml.read_text())
    assert data["names"] == list(CLASS_NAMES) and data["nc"] == 5
    assert "download" not in data and "path" not in data  # paths resolve next to data.yaml
    for split, count in summary.images.items():
        images = sorted((summary.root / "images" / split).glob("*.jpg"))
        labels = sorted((summary.root / "labels" / split).glob("*.txt"))
        assert len(images) == len(labels) == count
        assert [p.stem for p in images] == [p.stem for p in labels]


def test_labels_are_valid_yolo_boxes_inside_the_image(tmp_path: Path) -> None:
    summary = make_demo_dataset(tmp_path / "demo", images=60, imgsz=160)
    classes_seen = set()
    total = 0
    for label in (summary.root / "labels").rglob("*.txt"):
        image = Image.open(summary.root / "images" / label.parent.name / f"{label.stem}.jpg")
        assert image.size == (160, 160) and image.mode == "RGB"
        for row in label.read_text().splitlines():
            cls, x, y, w, h = row.split()
            c, x, y, w, h = int(cls), float(x), float(y), float(w), float(h)
            classes_seen.add(c)
            total += 1
            assert 0 <= c < len(CLASS_NAMES)
            assert 0 < w <= 1 and 0 < h <= 1
            assert x - w / 2 >= -1e-6 and x + w / 2 <= 1 + 1e-6
            assert y - h / 2 >= -1e-6 and y + h / 2 <= 1 + 1e-6
            assert w * 160 >= 10 and h * 160 >= 10  # big enough to learn at this size
    assert classes_seen == set(range(len(CLASS_NAMES)))
    assert total == sum(summary.boxes.values()) and total >= 60


def test_same_seed_same_bytes_other_seed_other_images(tmp_path: Path) -> None:
    a = _digest(make_demo_dataset(tmp_path / "a", images=12, imgsz=96, seed=3).root)
    b = _digest(make_demo_dataset(tmp_path / "b", images=12, imgsz=96, seed=3).root)
    c = _digest(make_demo_dataset(tmp_path / "c", images=12, imgsz=96, seed=4).root)
    assert a == b
    assert {k: v for k, v in a.items() if k.endswith(".jpg")} != {k: v for k, v in c.items() if k.endswith(".jpg")}


def test_refuses_a_folder_that_is_not_a_demo_dataset(tmp_path: Path) -> None:
    user = tmp_path / "mine"
    user.mkdir()
    (user / "precious.txt").write_text("keep me")
    with pytest.raises(DemoDataError, match="not a demo dataset"):
        make_demo_dataset(user, images=10, force=True)
    assert (user / "precious.txt").read_text() == "keep me"


def test_existing_demo_needs_force_and_is_then_replaced(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    make_demo_dataset(out, images=10, imgsz=64, seed=1)
    with pytest.raises(DemoDataError, match="--force"):
        make_demo_dataset(out, images=10, imgsz=64, seed=2)
    summary = make_demo_dataset(out, images=20, imgsz=64, seed=2, force=True)
    assert sum(summary.images.values()) == 20
    assert len(list((out / "images").rglob("*.jpg"))) == 20


def test_interrupted_generation_leaves_nothing_behind(tmp_path: Path) -> None:
    def interrupt(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_demo_dataset(tmp_path / "demo", images=20, imgsz=64, progress=interrupt)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kwargs", "fragment"), [({"images": 3}, "at least 10"), ({"imgsz": 32}, "64 to 2048")])
def test_bad_arguments_say_what_to_use(tmp_path: Path, kwargs: dict, fragment: str) -> None:
    with pytest.raises(DemoDataError, match=fragment):
        make_demo_dataset(tmp_path / "demo", **kwargs)


@hypothesis_settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), imgsz=st.integers(min_value=64, max_value=320))
def test_every_rendered_box_lies_inside_its_image(seed: int, imgsz: int) -> None:
    image, labels = render_sample(random.Random(seed), imgsz)
    assert image.size == (imgsz, imgsz)
    for cls, x, y, w, h in labels:
        assert 0 <= cls < len(CLASS_NAMES)
        assert 0 < w <= 1 and 0 < h <= 1
        assert 0 <= x - w / 2 and x + w / 2 <= 1 and 0 <= y - h / 2 and y + h / 2 <= 1
