"""Dataset versions: fixes applied exactly and nothing else changed, removals, numbering and lineage, refusals
that say what is wrong, the source byte-identical afterwards, the command line; an audit's fix list end to end."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlcore.core.errors import SubmitError
from mlcore.core.settings import PROJECT_ROOT
from mlcore.datasets.loader import load_dataset
from mlcore.datasets.resplit import copy_groups
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.validate import validate
from mlcore.datasets.version_diff import compare_datasets
from mlcore.datasets.versions import MANIFEST, list_versions, make_version
from tests.conftest import mlcore, tree_digest
from tests.quality_fixture import made_audit


def _labels(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted((root / "labels").rglob("*.txt"))}


def _fix_list(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["label_file", "line", "type", "score", "as_is", "suggested"])
        writer.writeheader()
        writer.writerows({"type": "swapped", "score": 0.1, **r} for r in rows)
    return path


def test_fixes_are_applied_exactly_and_nothing_else_changes(data_studio, tmp_path: Path) -> None:
    settings, source = data_studio
    before = tree_digest(source)
    labels = _labels(source)
    changed, removed, added_to = sorted(f for f, text in labels.items() if len(text.splitlines()) >= 2)[:3]
    first = labels[changed].splitlines()[0]
    swapped = " ".join(["4" if first.split()[0] != "4" else "3", *first.split()[1:]])
    fixes = _fix_list(
        tmp_path / "fixes.csv",
        [
            {"label_file": changed, "line": 1, "as_is": first, "suggested": swapped},
            {"label_file": removed, "line": 2, "as_is": labels[removed].splitlines()[1], "suggested": ""},
            {"label_file": added_to, "line": "", "as_is": "", "suggested": "0 0.500000 0.500000 0.100000 0.100000"},
        ],
    )
    manifest = make_version(str(source), settings, fixes=fixes, actor="ana")
    assert tree_digest(source) == before, "the source dataset was written"
    version = Path(manifest["path"])
    assert version == settings.outputs_root / "datasets" / "logos" / "v1" and manifest["made_by"] == "ana"
    assert manifest["changes"][0] | {"file": None} == {
        "kind": "apply_fixes",
        "file": None,
        "fixes": 3,
        "changed": 1,
        "removed": 1,
        "added": 1,
    }
    now = _labels(version)
    assert now.keys() == labels.keys()
    for name, text in labels.items():
        if name == changed:
            assert now[name].splitlines() == [swapped, *text.splitlines()[1:]]
        elif name == removed:
            lines = text.splitlines()
            assert now[name].splitlines() == [lines[0], *lines[2:]]
        elif name == added_to:
            assert now[name].splitlines() == [*text.splitlines(), "0 0.500000 0.500000 0.100000 0.100000"]
        else:
            assert now[name] == text, name
    original = next((source / "images" / "train").iterdir())
    linked = version / "images" / "train" / original.name
    assert linked.read_bytes() == original.read_bytes() and sum(manifest["links"].values()) == 24
    if manifest["links"].get("hardlink"):
        assert linked.stat().st_ino == original.stat().st_ino  # no space used
    assert manifest["parent"]["path"] == str(source) and len(manifest["parent"]["fingerprint"]) == 40
    assert manifest["validation"]["error"] == 0 and Path(manifest["validation"]["report"]).is_dir()
    assert json.loads((version / MANIFEST).read_text()) == manifest
    assert {s: len(v) for s, v in load_dataset(version).splits.items()} == manifest["counts"]


def test_a_fix_list_that_no_longer_matches_is_refused_and_nothing_is_written(data_studio, tmp_path: Path) -> None:
    settings, source = data_studio
    name = sorted(_labels(source))[0]
    stale = _fix_list(
        tmp_path / "stale.csv",
        [{"label_file": name, "line": 1, "as_is": "0 0.1 0.1 0.1 0.1", "suggested": "1 0.1 0.1 0.1 0.1"}],
    )
    with pytest.raises(SubmitError, match=r"1 of 1 fixes do not match .* line 1 reads .*audit the dataset again"):
        make_version(str(source), settings, fixes=stale)
    other = _fix_list(
        tmp_path / "other.csv",
        [{"label_file": "labels/train/elsewhere.txt", "line": 1, "as_is": "x", "suggested": "y"}],
    )
    with pytest.raises(SubmitError, match="is not a label file of this dataset"):
        make_version(str(source), settings, fixes=other)
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(SubmitError, match="a fix list has the columns"):
        make_version(str(source), settings, fixes=tmp_path / "empty.csv")
    with pytest.raises(SubmitError, match="nothing to change"):
        make_version(str(source), settings)
    with pytest.raises(SubmitError, match="name="):
        make_version(str(source), settings, fixes=stale, name="../escape")
    assert not (settings.outputs_root / "datasets" / "logos").exists()


def test_removals_by_list_or_by_validation_error_and_versions_of_versions(data_studio, tmp_path: Path) -> None:
    settings, source = data_studio
    broken = sorted((source / "labels" / "val").glob("*.txt"))[0]
    broken.write_text("99 0.5 0.5 0.2 0.2\n")  # a class id the dataset does not have: a validation error
    first = make_version(str(source), settings, remove="errors")
    assert first["changes"][0]["removed"] == [f"images/val/{broken.stem}.jpg"]
    assert (
        first["validation"]["error"] == 0 and first["counts"]["val"] == len(list((source / "images/val").iterdir())) - 1
    )
    listed = tmp_path / "remove.txt"
    keep_out = sorted(p.relative_to(first["path"]).as_posix() for p in Path(first["path"], "images/train").iterdir())[
        :2
    ]
    listed.write_text("\n".join(keep_out) + "\n")
    second = make_version(first["path"], settings, remove=listed)
    assert second["version"] == 2 and second["parent"] | {"fingerprint": None} == {
        "path": first["path"],
        "fingerprint": None,
        "name": "logos",
        "version": 1,
    }
    assert second["counts"]["train"] == first["counts"]["train"] - 2
    listed.write_text("images/train/not-there.jpg\n")
    with pytest.raises(SubmitError, match="not in this dataset, e.g. images/train/not-there.jpg"):
        make_version(first["path"], settings, remove=listed)


def test_an_audits_fix_list_becomes_a_version_from_the_command_line(data_studio) -> None:
    settings, source = data_studio
    job, document = made_audit(settings, source)
    fix_list = Path(job.run_dir) / "fix_list.csv"
    proc = mlcore(
        "dataset",
        "version",
        str(source),
        "--apply-fixes",
        str(fix_list),
        "--name",
        "logos-fixed",
        "--json",
        extra_env={"ML_STUDIO_OUTPUTS": str(settings.outputs_root), "ML_STUDIO_DATASET_ROOTS": str(source.parent)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads(proc.stdout)
    assert {"path", "parent", "changes"} <= set(manifest) and manifest["name"] == "logos-fixed"
    version = Path(manifest["path"])
    for issue in document["issues"]:
        lines = (version / issue["label_file"]).read_text().splitlines()
        if issue["suggested"]:
            assert issue["suggested"] in lines
    again = mlcore(
        "dataset",
        "version",
        str(source),
        "--apply-fixes",
        str(fix_list),
        "--name",
        "bad name",
        extra_env={"ML_STUDIO_OUTPUTS": str(settings.outputs_root), "ML_STUDIO_DATASET_ROOTS": str(source.parent)},
    )
    assert again.returncode == 2 and "name=" in again.stderr and "Traceback" not in again.stderr


SHARED = PROJECT_ROOT.parent / "shared" / "datasets" / "logo_tdtu"


def _copies_across_splits(root: Path) -> int:
    report = validate(root, ValidationOptions())
    return sum(1 for i in report.issues if i.code in ("near_duplicate", "duplicate_image"))


def test_a_resplit_of_the_shared_real_dataset_leaves_no_copies_across_splits(data_studio) -> None:
    settings, source = data_studio
    real = source.parent / "logo_tdtu"
    shutil.copytree(SHARED, real)
    before = tree_digest(real)
    assert _copies_across_splits(real) > 40  # the export as it comes: val and test full of near-copies of train
    manifest = make_version(str(real), settings, resplit="70/20/10")
    assert tree_digest(real) == before
    change = manifest["changes"][0]
    assert change["kind"] == "resplit" and change["moved"] > 0 and change["largest_group"] > 1
    assert all(abs(change["achieved"][s] - p) <= 0.05 for s, p in {"train": 0.7, "val": 0.2, "test": 0.1}.items())
    assert _copies_across_splits(Path(manifest["path"])) == 0
    assert sum(manifest["counts"].values()) == sum(len(v) for v in load_dataset(real).splits.values())
    again = make_version(str(real), settings, resplit="70/20/10")  # the same seed, the same split
    assert again["changes"][0]["achieved"] == change["achieved"] and again["counts"] == manifest["counts"]


def test_an_impossible_resplit_says_how_close_it_got(data_studio) -> None:
    settings, source = data_studio
    first = sorted((source / "images" / "train").glob("*.jpg"))[0]
    for n in range(20):  # one photo 21 times: a group no split of a third can take
        shutil.copy(first, first.with_name(f"again_{n}.jpg"))
        shutil.copy(source / "labels" / "train" / f"{first.stem}.txt", source / "labels" / "train" / f"again_{n}.txt")
    with pytest.raises(SubmitError, match=r"within ±5 points of 34/33/33: the closest is .* group of copies holds 21"):
        make_version(str(source), settings, resplit="34/33/33")
    with pytest.raises(SubmitError, match="is not a split; write the train/val/test percentages"):
        make_version(str(source), settings, resplit="seventy")


def test_copies_are_grouped_transitively() -> None:
    a = (1 << 143) | 12345
    b = a ^ 0b1111111  # 7 bits from a
    c = b ^ (0b1111111 << 40)  # 7 bits from b, 14 from a
    far = ((1 << 144) - 1) ^ a  # every bit different
    groups = copy_groups([a, b, c, far, None], [None, None, None, "x", "x"])
    assert sorted(sorted(g) for g in groups) == [[0, 1, 2], [3, 4]]


def _labelled_folder(target: Path, source: Path, names: list[str], lines: dict[str, str]) -> Path:
    """images/, labels/, classes.txt: what the images to label next become after labelling."""
    (target / "images").mkdir(parents=True)
    (target / "labels").mkdir()
    rng = np.random.default_rng(len(lines))
    for stem, text in lines.items():
        pixels = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(target / "images" / f"{stem}.jpg")
        if text is not None:
            (target / "labels" / f"{stem}.txt").write_text(text)
    (target / "classes.txt").write_text("\n".join(names) + "\n")
    return target


def test_labelled_images_are_added_with_their_classes_mapped_by_name(data_studio) -> None:
    settings, source = data_studio
    names = list(load_dataset(source).names.values())
    reordered = [names[2], names[0]]  # the labelling tool's own class order
    lines = {"new_a": "0 0.5 0.5 0.2 0.2\n", "new_b": "1 0.3 0.3 0.1 0.1\n", "new_c": ""}
    folder = _labelled_folder(source.parent / "labelled", source, reordered, lines)
    manifest = make_version(str(source), settings, add=str(folder), add_to="val")
    version = Path(manifest["path"])
    assert manifest["changes"][0] == {"kind": "add", "from": str(folder), "split": "val", "images": 3}
    assert manifest["counts"]["val"] == len(load_dataset(source).splits["val"]) + 3
    assert (version / "labels/val/new_a.txt").read_text().split()[0] == "2"  # names[2] keeps its id
    assert (version / "labels/val/new_b.txt").read_text().split()[0] == "0"
    assert (version / "labels/val/new_c.txt").read_text() == "" and manifest["validation"]["error"] == 0


def test_added_images_without_labels_or_with_other_classes_are_refused(data_studio) -> None:
    settings, source = data_studio
    names = list(load_dataset(source).names.values())
    missing = _labelled_folder(source.parent / "half", source, names, {"a": "0 0.5 0.5 0.2 0.2\n", "b": None})
    with pytest.raises(SubmitError, match="1 of 2 images to add have no label file, e.g. images/b.jpg"):
        make_version(str(source), settings, add=str(missing))
    other = _labelled_folder(source.parent / "other", source, ["pelican"], {"a": "0 0.5 0.5 0.2 0.2\n"})
    with pytest.raises(SubmitError, match="classes the dataset does not have \\(pelican"):
        make_version(str(source), settings, add=str(other))
    with pytest.raises(SubmitError, match="split='holdout'"):
        make_version(str(source), settings, add=str(other), add_to="holdout")
    assert not (settings.outputs_root / "datasets" / "logos").exists()


def test_merging_a_dataset_maps_classes_by_name_appends_others_and_follows_the_users_mapping(data_studio) -> None:
    settings, source = data_studio
    ours = load_dataset(source).names
    theirs = [ours[1], "pelican", "Heron"]
    lines = {"m_a": "0 0.5 0.5 0.2 0.2\n", "m_b": "1 0.3 0.3 0.1 0.1\n2 0.6 0.6 0.2 0.2\n", "m_c": ""}
    other = _labelled_folder(source.parent / "other", source, theirs, lines)
    before = tree_digest(other), tree_digest(source)
    manifest = make_version(str(source), settings, merge=str(other), class_map={"Heron": ours[0]})
    version = Path(manifest["path"])
    merged = load_dataset(version)
    assert merged.names == {**ours, len(ours): "pelican"}
    change = manifest["changes"][0]
    assert change["kind"] == "merge" and change["images"] == {"train": 3} and change["appended"] == ["pelican"]
    assert change["classes"] == {ours[1]: ours[1], "pelican": "pelican", "Heron": ours[0]}
    assert (version / "labels/train/m_a.txt").read_text().split()[0] == "1"
    assert [line.split()[0] for line in (version / "labels/train/m_b.txt").read_text().splitlines()] == [
        str(len(ours)),
        "0",
    ]
    assert manifest["counts"]["train"] == len(load_dataset(source).splits["train"]) + 3
    assert manifest["validation"]["error"] == 0 and (tree_digest(other), tree_digest(source)) == before


def test_a_merge_that_cannot_be_made_is_refused(data_studio) -> None:
    settings, source = data_studio
    other = _labelled_folder(source.parent / "other", source, ["pelican"], {"a": "3 0.5 0.5 0.2 0.2\n"})
    with pytest.raises(SubmitError, match="merged with itself"):
        make_version(str(source), settings, merge=str(source))
    with pytest.raises(SubmitError, match="--map names Heron, which the dataset to merge does not have"):
        make_version(str(source), settings, merge=str(other), class_map={"Heron": "x"})
    with pytest.raises(SubmitError, match="class id 3 is not in its names"):
        make_version(str(source), settings, merge=str(other))
    with pytest.raises(SubmitError, match="give the dataset to merge too"):
        make_version(str(source), settings, resplit="70/20/10", class_map={"a": "b"})
    assert not (settings.outputs_root / "datasets" / "logos").exists()


def test_comparing_two_versions_shows_what_was_added_removed_moved_and_relabelled(data_studio, tmp_path: Path) -> None:
    settings, source = data_studio
    labels = _labels(source)
    name = sorted(f for f, text in labels.items() if f.startswith("labels/train/") and text.strip())[0]
    fixes = _fix_list(
        tmp_path / "fixes.csv",
        [{"label_file": name, "line": 1, "as_is": labels[name].splitlines()[0], "suggested": ""}],
    )
    v1 = make_version(str(source), settings, fixes=fixes)
    drop = tmp_path / "drop.txt"
    drop.write_text(sorted(p.relative_to(v1["path"]).as_posix() for p in Path(v1["path"], "images/val").iterdir())[0])
    v2 = make_version(v1["path"], settings, remove=drop, resplit="60/30/10", tolerance=0.2)
    diff = compare_datasets(Path(v1["path"]), Path(v2["path"]))
    assert diff["counts"]["removed"] == 1 and diff["removed"] == [drop.read_text()]
    assert diff["counts"]["added"] == 0 and diff["counts"]["moved"] == v2["changes"][1]["moved"] > 0
    first = compare_datasets(source, Path(v1["path"]))
    assert first["counts"]["relabelled"] == 1 and first["counts"]["moved"] == first["counts"]["added"] == 0
    train_rows = [r for r in first["class_table"] if r["split"] == "train"]
    assert sum(r["before"] for r in train_rows) - sum(r["after"] for r in train_rows) == 1


def test_the_versions_part_of_the_dataset_page_makes_lists_and_compares(data_studio) -> None:
    from streamlit.testing.v1 import AppTest

    settings, source = data_studio
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "datasets.py"), default_timeout=60)
    at.session_state["datasets.pick"] = str(source)
    at.run()
    assert not at.exception, at.exception
    assert any("No version yet" in i.value for i in at.info)
    at.text_input(key="versions.resplit").set_value("70/20/10").run()
    at.button(key="versions.make").click().run()
    assert not at.exception, at.exception
    made = list_versions(settings)
    assert len(made) == 1 and made[0]["changes"][0]["kind"] == "resplit"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Validation errors"] == "0" and metrics["Images"] == "24"
    at.text_input(key="versions.resplit").set_value("ninety").run()
    at.button(key="versions.make").click().run()
    assert any("is not a split" in e.value for e in at.error)
    at.selectbox(key="versions.a").set_value(str(source)).run()
    at.selectbox(key="versions.b").set_value(made[0]["path"]).run()
    at.button(key="versions.compare").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images added"] == "0" and metrics["Images removed"] == "0"


def test_a_run_trained_on_a_version_names_it_in_the_runs_table_and_the_lineage(data_studio) -> None:
    from mlcore.registry.lineage import lineage_of
    from mlcore.runs.store import list_runs, runs_table
    from tests.run_fixture import make_run

    settings, source = data_studio
    manifest = make_version(str(source), settings, resplit="70/20/10")
    run = make_run(settings.outputs_root, dataset_path=manifest["path"])
    make_run(settings.outputs_root, name="logos/plain", dataset_path=str(source))
    labels = sorted(r["dataset"] for r in runs_table(list_runs(settings), {}))
    assert labels == ["logos", "logos v1"]
    lineage = lineage_of(run / "weights" / "best.pt", settings)
    assert lineage["dataset"]["version"]["name"] == "logos" and lineage["dataset"]["version"]["version"] == 1
    assert lineage["dataset"]["version"]["parent"]["path"] == str(source)


def test_the_dataset_page_offers_a_repair_and_merges_with_a_mapping(data_studio) -> None:
    from streamlit.testing.v1 import AppTest

    settings, source = data_studio
    names = list(load_dataset(source).names.values())
    export = _labelled_folder(
        source.parent / "studio-export", source, names[:2], {f"s{k}": f"{k % 2} 0.5 0.5 0.2 0.2\n" for k in range(10)}
    )
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "datasets.py"), default_timeout=60)
    at.session_state["datasets.pick"] = str(export)
    at.run()
    assert not at.exception, at.exception
    offer = [w.value for w in at.warning if "can be repaired" in w.value]
    assert offer and "no validation split" in offer[0] and "70/20/10" in offer[0]
    at.button(key="repair.make").click().run()
    assert not at.exception, at.exception
    repaired = list_versions(settings)[0]
    assert repaired["name"] == "studio-export" and repaired["counts"] == {"train": 7, "val": 2, "test": 1}
    assert at.selectbox(key="datasets.pick").value == repaired["path"]  # the page opened the repaired version
    assert f"{repaired['path']}  (studio-export v1, from studio-export)" in at.selectbox(key="datasets.pick").options
    assert not [w for w in at.warning if "can be repaired" in w.value]
    at.selectbox(key="datasets.pick").set_value(str(source)).run()
    at.selectbox(key="versions.merge").set_value(repaired["path"]).run()
    at.text_area(key="versions.map").set_value(f"{names[1]}={names[0]}").run()
    at.button(key="versions.make").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    merged = next(m for m in list_versions(settings) if m["name"] == "logos")
    assert merged["changes"][0]["kind"] == "merge" and merged["changes"][0]["classes"][names[1]] == names[0]
    assert sum(merged["counts"].values()) == 24 + 10 and merged["validation"]["error"] == 0


def test_versions_of_a_dataset_kept_under_the_outputs_go_beside_it_and_the_command_merges(data_studio) -> None:
    settings, source = data_studio
    kept = settings.outputs_root / "datasets" / "logos"
    shutil.copytree(source, kept)  # as the demo dataset is kept: a dataset folder where versions would go
    before = tree_digest(kept)
    manifest = make_version(str(kept), settings, resplit="70/20/10", tolerance=0.2)
    assert Path(manifest["path"]) == settings.outputs_root / "datasets" / "logos-versions" / "v1"
    assert tree_digest(kept) == before
    other = _labelled_folder(source.parent / "other", source, ["pelican"], {"a": "0 0.5 0.5 0.2 0.2\n"})
    env = {"ML_STUDIO_DATASET_ROOTS": str(source.parent)}
    bad = mlcore(
        "dataset",
        "version",
        str(source),
        "--merge",
        str(other),
        "--map",
        "pelican",
        env_outputs=settings.outputs_root,
        extra_env=env,
    )
    assert bad.returncode == 2 and "write THEIRS=OURS" in bad.stderr and "Traceback" not in bad.stderr
    done = mlcore(
        "dataset",
        "version",
        str(source),
        "--merge",
        str(other),
        "--map",
        "pelican=bird",
        "--json",
        env_outputs=settings.outputs_root,
        extra_env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changes"][0]["appended"] == ["bird"]


def test_a_version_name_taken_by_versions_of_another_dataset_is_refused_or_avoided(data_studio) -> None:
    settings, source = data_studio
    first = make_version(str(source), settings, remove="errors")
    twin = source.parent / "elsewhere" / "logos"  # another dataset of the same folder name
    shutil.copytree(source, twin)
    with pytest.raises(SubmitError, match=r"versions named 'logos' exist and come from .*/data/logos, not from"):
        make_version(str(twin), settings, remove="errors", name="logos")
    avoided = make_version(str(twin), settings, remove="errors")
    assert Path(avoided["path"]).parent.name == "logos-versions" and avoided["version"] == 1
    again = make_version(first["path"], settings, resplit="70/20/10", tolerance=0.2, name="logos")  # its own family
    assert (again["name"], again["version"]) == ("logos", 2)
    by_yaml = make_version(str(source / "data.yaml"), settings, remove="errors", name="logos")  # the same dataset
    assert (by_yaml["name"], by_yaml["version"]) == ("logos", 3)


def test_what_a_review_found_another_tools_manifest_shared_stems_and_a_name_of_spaces(data_studio) -> None:
    from mlcore.datasets.repair import diagnose
    from mlcore.datasets.versions import lineage_label, version_of

    settings, source = data_studio
    (source / "manifest.json").write_text('{"files": ["a.jpg"]}')  # another tool's, not a version's
    assert version_of(source) is None and lineage_label(source) is None
    assert make_version(str(source), settings, resplit="70/20/10", tolerance=0.2)["name"] == "logos"
    shared = source.parent / "shared stems (export 1)"  # the same file names in every split, test unlabelled
    for split in ("train", "val", "test"):
        (shared / "images" / split).mkdir(parents=True)
        (shared / "labels" / split).mkdir(parents=True)
        for k, image in enumerate(sorted((source / "images" / "train").iterdir())[:4]):
            shutil.copy(image, shared / "images" / split / f"{k}.jpg")
            if split != "test":
                (shared / "labels" / split / f"{k}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (shared / "classes.txt").write_text("logo\n")
    assert diagnose(shared) == [], "train's labels were offered for the unlabelled test images"
    manifest = make_version(str(shared), settings, resplit="50/50", tolerance=0.3)
    assert manifest["name"] == "shared-stems-export-1"
    other = _labelled_folder(source.parent / "png", source, ["logo"], {"0": "0 0.1 0.1 0.1 0.1\n"})
    (other / "images" / "0.jpg").rename(other / "images" / "0.png")  # 0.png beside the train split's 0.jpg
    merged = make_version(str(shared), settings, merge=str(other))
    labels = sorted(p.read_text() for p in Path(merged["path"], "labels", "train").glob("0*.txt"))
    assert labels == ["0 0.100000 0.100000 0.100000 0.100000\n", "0 0.5 0.5 0.2 0.2\n"]  # one label file each
