"""The images-to-label-next job end to end with a real model: ranking, near-duplicates left out, unreadable files
skipped and listed, the top N exported with YOLO pre-labels, the source folder untouched; the CLI and the API."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import load_settings
from mlcore.datasets.loader import load_dataset
from mlcore.jobs.store import JobState, open_store
from mlcore.quality.spec import SelectSpec
from mlcore.quality.submit import submit_selection
from tests.conftest import mlcore, until_final


@pytest.fixture
def unlabelled(tiny: dict[str, str]) -> Path:
    """Images without labels: the test and val images, a recompressed copy of one, and a file that is no image."""
    folder = Path(tiny["ML_STUDIO_DATASET_ROOTS"]) / "unlabelled"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    data = load_dataset(Path(tiny["data"]))
    for image in [*data.splits["test"], *data.splits["val"]]:
        shutil.copy(image, folder / Path(image).name)
    first = sorted(folder.glob("*.jpg"))[0]
    Image.open(first).save(folder / "copy.jpg", quality=70)
    (folder / "broken.jpg").write_bytes(b"not a picture at all")
    return folder


def _digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sorted(folder.iterdir()))).hexdigest()


@pytest.mark.slow
def test_a_selection_ranks_leaves_out_near_copies_and_exports_pre_labels(tiny, unlabelled: Path) -> None:
    before = _digest(unlabelled)
    settings = load_settings()
    job = submit_selection(
        SelectSpec(model_path=tiny["model"], images=str(unlabelled), top=3, imgsz=128, device="cpu"), settings
    )
    until_final(job.id, settings)
    done = open_store(settings).get(job.id)
    assert done.state is JobState.COMPLETED, done.error
    folder = Path(done.run_dir)
    document = json.loads((folder / paths.SELECTION_FILE).read_text())
    assert _digest(unlabelled) == before, "the selection wrote into the source folder"
    readable = len(list(unlabelled.glob("*.jpg"))) - 1
    assert document["counts"]["images"] == readable and document["skipped"][0]["path"] == "broken.jpg"
    pair = {"copy.jpg", sorted(p.name for p in unlabelled.glob("*.jpg") if p.name not in ("broken.jpg", "copy.jpg"))[0]}
    assert len(document["near_duplicates"]) == 1
    dropped = document["near_duplicates"][0]
    assert {dropped["path"], dropped["duplicate_of"]} == pair  # the copy and its original: one is left out
    ranking = document["ranking"]
    assert [r["rank"] for r in ranking] == list(range(1, readable))
    assert [r["score"] for r in ranking] == sorted((r["score"] for r in ranking), reverse=True)
    assert all(0 <= r["score"] <= 1 for r in ranking)
    chosen = [r["path"] for r in document["chosen"]]
    assert chosen == [r["path"] for r in ranking[:3]]
    to_label = folder / paths.TO_LABEL_DIR
    assert sorted(p.name for p in (to_label / "images").iterdir()) == sorted(chosen)
    assert (to_label / "classes.txt").read_text().split() == list(load_dataset(Path(tiny["data"])).names.values())
    for name in chosen:
        for line in (to_label / "labels" / f"{Path(name).stem}.txt").read_text().splitlines():
            cls, *box = line.split()
            assert 0 <= int(cls) < 5 and len(box) == 4 and all(0 <= float(v) <= 1 for v in box)
    assert all((folder / "previews" / r["preview"]).is_file() for r in document["chosen"])


@pytest.mark.slow
def test_select_command_prints_the_ranking_and_refuses_a_folder_without_images(tiny, unlabelled: Path) -> None:
    proc = mlcore(
        "select",
        "--model",
        tiny["model"],
        "--images",
        str(unlabelled),
        "--top",
        "2",
        "--imgsz",
        "128",
        "--device",
        "cpu",
        "--wait",
        "--json",
        extra_env=tiny,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    document = json.loads(proc.stdout)
    assert len(document["chosen"]) == 2 and {"ranking", "near_duplicates", "to_label"} <= set(document)
    empty = unlabelled.parent / "no-images"
    empty.mkdir(exist_ok=True)
    (empty / "notes.txt").write_text("x")
    proc = mlcore("select", "--model", tiny["model"], "--images", str(empty), extra_env=tiny)
    assert (
        proc.returncode == 2
        and "holds no JPEG, PNG, WebP, BMP or TIFF images" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_a_model_outside_the_trusted_folders_is_refused(tiny, tmp_path: Path, unlabelled: Path) -> None:
    outside = tmp_path / "model.pt"
    outside.write_bytes(b"a pickle")
    with pytest.raises(SubmitError):
        submit_selection(SelectSpec(model_path=str(outside), images=str(unlabelled)), load_settings())
