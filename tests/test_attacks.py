"""Crafted inputs that would run code, reach files or take the process down: none of them may.

Each payload, if it ever ran, would create a marker file; every test asserts that the marker was
never created. Where the studio hands the data to Ultralytics (a training), a real training runs.
Then datasets whose own contents (path:, split entries, image lists, links) lead outside the dataset roots,
through every route that reads a dataset; YAML that expands without bound; a class name that would write a
line of its own into train.log; a token sent in a URL; refusals that would tell which outside files exist.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from mlcore.core.errors import SubmitError
from mlcore.core.settings import load_settings
from mlcore.datasets.loader import load_dataset
from mlcore.datasets.staging import stage_dataset
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.validate import validate
from mlcore.engine.env import engine_environment
from mlcore.evaluation.spec import EvalSpec
from mlcore.evaluation.submit import submit_evaluation
from mlcore.jobs.store import JobState, JobStore
from mlcore.runs.measure import compute_metrics
from mlcore.runs.store import attach_run
from mlcore.training.submit import submit_training
from tests.conftest import mlcore, tiny_spec, until_final


class Payload:
    """Unpickling this creates `marker`: the proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def download_payload(marker: Path) -> str:
    return f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


def test_a_download_key_is_reported_and_never_run(roots: dict, marker: Path) -> None:
    settings = load_settings()
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    crafted = data / "crafted"
    shutil.copytree(data / "small", crafted)
    spec = yaml.safe_load((crafted / "data.yaml").read_text())
    spec |= {"val": "images/missing", "download": download_payload(marker)}  # Ultralytics runs it for a missing split
    (crafted / "data.yaml").write_text(yaml.safe_dump(spec))
    codes = {issue.code for issue in validate(crafted, ValidationOptions(near_duplicates=False)).issues}
    assert {"download_key", "split_missing"} <= codes
    with pytest.raises(SubmitError):
        submit_training(tiny_spec(crafted), settings)
    staged = stage_dataset(load_dataset(crafted), settings.outputs_root / "staging" / "check")
    assert "download" not in yaml.safe_load(staged.read_text())
    check = "import sys; from ultralytics.data.utils import check_det_dataset as c; c(sys.argv[1], autodownload=True)"
    subprocess.run(  # what Ultralytics does first with a training's data.yaml (in a child: it patches Pillow)
        [sys.executable, "-c", check, str(staged)], env=engine_environment(settings), capture_output=True, timeout=120
    )
    assert not marker.exists()
    exec(spec["download"])  # the payload is live: what Ultralytics would have run
    assert marker.exists()


def test_weights_outside_the_trusted_folders_are_never_unpickled(roots: dict, marker: Path) -> None:
    settings = load_settings()
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    weights = data / "elsewhere" / "weights" / "best.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(SubmitError, match="pickle"):
        submit_training(tiny_spec(data / "small", mode="transfer", base_model_path=str(weights)), settings)
    with pytest.raises(SubmitError, match="pickle"):
        submit_evaluation(EvalSpec(model_path=str(weights), dataset_path=str(data / "small")), settings)
    for through in ("..", "sym"):  # a path that climbs, or a link, out of the outputs' trainings folder
        trainings = settings.outputs_root / "trainings"
        trainings.mkdir(parents=True, exist_ok=True)
        if through == "sym":
            (trainings / "link.pt").symlink_to(weights)
            typed = str(trainings / "link.pt")
        else:
            typed = f"{trainings}/../../data/elsewhere/weights/best.pt"
        with pytest.raises(SubmitError, match="pickle"):
            submit_evaluation(EvalSpec(model_path=typed, dataset_path=str(data / "small")), settings)
    (weights.parent.parent / "results.csv").write_text("epoch,time\n1,1.0\n")
    (weights.parent.parent / "args.yaml").write_text(yaml.safe_dump({"data": str(data / "small" / "data.yaml")}))
    run = attach_run(str(weights.parent.parent), settings)  # a run made elsewhere may be attached, only read
    with pytest.raises(SubmitError, match="pickle"):
        compute_metrics(run, settings)
    cli = mlcore("evaluate", "--model", str(weights), "--data", str(data / "small"), extra_env=roots)
    assert cli.returncode == 2 and "pickle" in cli.stderr
    assert not marker.exists()
    pickle.loads(weights.read_bytes())  # the payload is live: what loading the file would have run
    assert marker.exists()


@pytest.mark.slow
def test_a_crafted_label_cache_and_a_download_key_do_not_run_during_a_training(
    roots: dict,
    marker: Path,
) -> None:
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    crafted = data / "crafted"
    shutil.copytree(data / "small", crafted)
    for split in ("train", "val"):  # Ultralytics reads labels/{split}.cache with allow_pickle=True
        with (crafted / "labels" / f"{split}.cache").open("wb") as f:
            np.save(f, np.array(Payload(marker), dtype=object), allow_pickle=True)
    spec = yaml.safe_load((crafted / "data.yaml").read_text()) | {"download": download_payload(marker)}
    (crafted / "data.yaml").write_text(yaml.safe_dump(spec))
    before = sorted(p.relative_to(crafted) for p in crafted.rglob("*"))
    settings = load_settings()
    job = submit_training(tiny_spec(crafted, experiment="crafted"), settings)
    until_final(job.id, settings, 600)
    final = JobStore(settings.outputs_root / "jobs.db").get(job.id)
    assert final.state is JobState.COMPLETED, final.error
    assert not marker.exists()
    assert sorted(p.relative_to(crafted) for p in crafted.rglob("*")) == before  # nothing written into the dataset
    np.load(crafted / "labels" / "train.cache", allow_pickle=True)  # the payload is live, as Ultralytics reads it
    assert marker.exists()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels (a decompression bomb's header) with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_image_is_reported_not_decoded(roots: dict) -> None:
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    crafted = data / "bomb"
    shutil.copytree(data / "small", crafted)
    victim = sorted((crafted / "images" / "train").iterdir())[0]
    bomb = victim.with_suffix(".png")
    victim.unlink()
    bomb.write_bytes(_png_header_only(40_000, 40_000))  # 1.6 gigapixels, 6 GB if decoded
    report = validate(crafted, ValidationOptions(near_duplicates=True))
    found = [i for i in report.issues if i.code == "corrupt_image" and i.path.endswith(bomb.name)]
    assert found and "pixel" in found[0].message.lower()
    with pytest.raises(SubmitError, match="validation error"):
        submit_training(tiny_spec(crafted), load_settings())


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "{escape}"],
        ["train", "--data", "{escape}", "--epochs", "1"],
        ["evaluate", "--model", "{outputs}/trainings/../../escape/w.pt", "--data", "{data}/small"],
        ["evaluate", "--model", "{outputs}/trainings/x/weights/best.pt", "--data", "{data}/../escape"],
        ["runs", "attach", "{data}/link-out"],
        ["visualize", "{outputs}/trainings/../../escape"],
    ],
)
def test_every_path_field_refuses_climbing_and_links_out(roots: dict, command: list[str]) -> None:
    data, outputs = Path(roots["ML_STUDIO_DATASET_ROOTS"]), Path(roots["ML_STUDIO_OUTPUTS"])
    escape = data.parent / "escape"
    (escape / "images").mkdir(parents=True)
    (escape / "w.pt").write_bytes(b"x")
    (data / "link-out").symlink_to(escape)
    (outputs / "trainings" / "x" / "weights").mkdir(parents=True)
    (outputs / "trainings" / "x" / "weights" / "best.pt").write_bytes(b"x")
    filled = [a.format(escape=f"{data}/link-out", outputs=outputs, data=data) for a in command]
    proc = mlcore(*filled, extra_env=roots)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert any(reason in proc.stderr for reason in ("outside", "pickle", "no run"))  # visualize knows only runs
    assert "Traceback" not in proc.stderr


# --- A dataset's own contents reading outside the dataset roots -------------------------------------------------

API = "/api/v1/ml"
SECRET_BOX = "0 0.4321 0.5432 0.2468 0.1357"  # only reading the outside label file could reveal these numbers


def _private(tmp_path: Path) -> Path:
    """Files beside the dataset root that the server's account can read but no user may: an image and its label."""
    private = tmp_path / "private"
    (private / "images").mkdir(parents=True)
    (private / "labels").mkdir()
    Image.new("RGB", (80, 48), (201, 13, 77)).save(private / "images" / "secret-passport.jpg")
    (private / "labels" / "secret-passport.txt").write_text(SECRET_BOX + "\n")
    return private


def _crafted(form: str, logos: Path, private: Path) -> tuple[Path, str]:
    """A dataset under the data root whose contents lead to `private`, and the entry its refusal must name. Each
    also holds the logos' own images, so that everything made of it works when nothing is refused."""
    crafted = logos.parent / "crafted"
    val = str(logos / "images" / "val")
    secret = private / "images" / "secret-passport.jpg"
    if form in ("linked image", "linked label"):
        shutil.copytree(logos, crafted)
        image = sorted((crafted / "images" / "train").iterdir())[0]
        if form == "linked image":
            image.unlink()
            image.symlink_to(secret)
            return crafted, f"images/train/{image.name}"
        label = crafted / "labels" / "train" / f"{image.stem}.txt"
        label.unlink()
        label.symlink_to(private / "labels" / "secret-passport.txt")
        return crafted, f"labels/train/{image.stem}.txt"
    crafted.mkdir()
    names = yaml.safe_load((logos / "data.yaml").read_text())["names"]
    train = str(logos / "images" / "train")
    specs = {
        "path": ({"path": str(private), "train": "images", "val": val}, f"data.yaml's path: '{private}'"),
        "absolute split": (
            {"train": [str(private / "images"), train], "val": val},
            f"data.yaml's train: '{private / 'images'}'",
        ),
        "climbing split": (
            {"train": ["../../private/images", "../logos/images/train"], "val": "../logos/images/val"},
            "data.yaml's train: '../../private/images'",
        ),
        "list line": ({"train": "train.txt", "val": val}, f"train.txt: line 1 ('{secret}')"),
    }
    spec, entry = specs[form]
    if form == "list line":
        lines = [str(secret), *(str(p) for p in sorted((logos / "images" / "train").iterdir()))]
        (crafted / "train.txt").write_text("\n".join(lines) + "\n")
    (crafted / "data.yaml").write_text(yaml.safe_dump({**spec, "names": names}))
    return crafted, entry


FORMS = ["path", "absolute split", "climbing split", "list line", "linked image", "linked label"]


@pytest.mark.parametrize("form", FORMS)
def test_a_dataset_whose_contents_lead_outside_the_roots_is_read_by_no_route(
    data_studio: tuple, tmp_path: Path, form: str
) -> None:
    """Validation lists the entry as an error and reads nothing there; the augmentation preview, the COCO export and
    a new version are refused naming it; nothing of the outside files reaches an answer or the outputs."""
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    settings, logos = data_studio
    private = _private(tmp_path)
    crafted, entry = _crafted(form, logos, private)
    with TestClient(create_api(settings)) as client:
        checked = client.post(f"{API}/dataset/validate", params={"wait": 60}, json={"dataset_path": "crafted"})
        assert checked.status_code == 200, checked.text
        report = checked.json()  # the status, and the report's fields
        refusals = [i for i in report["issues"] if i["code"] == "outside_roots"]
        assert refusals and refusals[0]["severity"] == "error", report["issues"]
        assert any(entry in i["message"] and "outside the allowed folders" in i["message"] for i in refusals), refusals
        shown = json.dumps(report)
        assert "0.4321" not in shown and "80" not in str(report["image_sizes"])  # neither the box nor the pixels
        if form != "list line":  # there the user typed the name; elsewhere only listing the folder tells it
            assert "secret-passport" not in shown

        preview = client.post(
            f"{API}/training/augmentation-preview", json={"dataset_path": "crafted", "samples": 4, "imgsz": 64}
        )
        coco = client.get(f"{API}/datasets/export-coco", params={"path": "crafted"})
        version = client.post(f"{API}/datasets/versions", json={"source": "crafted", "resplit": "70/30"})
        for answer in (preview, coco, version):
            assert answer.status_code == 400, answer.text[:300]
            assert entry in answer.json()["detail"] and "outside the allowed folders" in answer.json()["detail"]
            assert "grid_png" not in answer.text and "0.4321" not in answer.text
    assert not list((settings.outputs_root / "datasets").glob("*/v*")), "a version was made"
    assert (private / "images" / "secret-passport.jpg").stat().st_nlink == 1, "the outside image was hard-linked"
    assert (private / "labels" / "secret-passport.txt").stat().st_nlink == 1


@pytest.mark.parametrize("form", ["path", "absolute split", "climbing split", "list line"])
def test_an_uploaded_zip_whose_data_yaml_leads_out_of_it_is_refused(
    data_studio: tuple, tmp_path: Path, form: str
) -> None:
    from mlcore.datasets.upload import UploadRefused, extract_dataset_zip
    from tests.datasets.test_dataset_upload import folder_zip

    settings, logos = data_studio
    crafted, entry = _crafted(form, logos, _private(tmp_path))
    with pytest.raises(UploadRefused, match="outside the allowed folders") as refused:
        extract_dataset_zip(folder_zip(crafted, "crafted/"), "crafted", settings)
    assert entry.split("'")[0] in str(refused.value)
    assert not (settings.uploads_dir / "crafted").exists() and not list(settings.uploads_dir.glob(".*partial"))


def test_a_refusal_reads_the_same_whether_or_not_the_outside_file_exists(data_studio: tuple, tmp_path: Path) -> None:
    """Pointing a path at an outside file must not tell the prober whether it exists: typed, or in a data.yaml."""
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    settings, logos = data_studio
    private = _private(tmp_path)
    there, missing = private / "images" / "secret-passport.jpg", private / "images" / "no-such-file.jpg"
    with TestClient(create_api(settings)) as client:
        answers = [client.post(f"{API}/dataset/validate", json={"dataset_path": str(p)}) for p in (there, missing)]
    assert [a.status_code for a in answers] == [400, 400]
    details = [a.json()["detail"].replace(str(p), "PATH") for a, p in zip(answers, (there, missing), strict=True)]
    assert details[0] == details[1] and "outside the allowed folders" in details[0]
    crafted = logos.parent / "probe"
    crafted.mkdir()
    messages = []
    for target in (private / "images", private / "no-such-folder"):
        (crafted / "data.yaml").write_text(yaml.safe_dump({"train": str(target), "val": str(target), "names": ["a"]}))
        issues = load_dataset(crafted, settings.dataset_roots).issues
        messages.append([i.message.replace(str(target), "PATH") for i in issues if i.split])
    assert messages[0] == messages[1] and len(messages[0]) == 2 and "outside the allowed folders" in messages[0][0]


# --- YAML that takes the process down, and class names that write into the log -------------------------------------

BILLION_LAUGHS = (
    'lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"l{k}: &{chr(98 + k)} [{','.join([f'*{chr(97 + k)}'] * 9)}]\n" for k in range(8))
    + "train: images/train\nval: images/val\nnames: *i\n"
)  # 9^9 names: ~20 GB when anything walks them


def _in_bounded_python(code: str, *args: str, gib: int = 3) -> subprocess.CompletedProcess:
    """`code` run in a child whose address space is capped, so that an unbounded expansion fails there."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (gib << 30, gib << 30))

    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=cap,
    )


def test_a_billion_laughs_data_yaml_is_refused_by_the_loader_and_the_api(roots: dict) -> None:
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    laughs = data / "laughs"
    shutil.copytree(data / "small", laughs)
    (laughs / "data.yaml").write_text(BILLION_LAUGHS)
    through_loader = (
        "import sys; from pathlib import Path; from mlcore.datasets.validation.validate import validate\n"
        "from mlcore.datasets.validation.options import ValidationOptions\n"
        "report = validate(Path(sys.argv[1]), ValidationOptions(workers=1))\n"
        "print([i.message for i in report.issues if i.code == 'yaml_error'])"
    )
    through_api = (
        "import sys; from fastapi.testclient import TestClient; from mlcore.api.app import create_api\n"
        "from mlcore.core.settings import load_settings\n"
        "with TestClient(create_api(load_settings())) as client:\n"
        "    answer = client.post('/api/v1/ml/dataset/validate?wait=60', json={'dataset_path': sys.argv[1]})\n"
        "print(answer.status_code, [i['message'] for i in answer.json()['issues'] "
        "if i['code'] == 'yaml_error'])"
    )
    for code in (through_loader, through_api):
        done = _in_bounded_python(code, str(laughs))
        assert done.returncode == 0, done.stderr[-2000:]
        assert "anchors and aliases" in done.stdout and "billion laughs" in done.stdout, done.stdout
    from mlcore.core.spec import SpecError
    from mlcore.core.user_yaml import UnsafeYaml, read_yaml_text
    from mlcore.training.spec import parse_advanced
    from mlcore.tuning.space import SpaceError, load_space_file

    merged = read_yaml_text("base: &b {mosaic: 0.5}\nrun: {<<: *b, degrees: 10}", "x")
    assert merged["run"] == {"mosaic": 0.5, "degrees": 10}  # aliases within the limit are read as ever
    with pytest.raises(UnsafeYaml, match="contains itself"):
        read_yaml_text("a: &a [*a]", "x")
    with pytest.raises(SpecError, match="anchors and aliases"):
        parse_advanced(BILLION_LAUGHS)
    (data / "space.yaml").write_text(BILLION_LAUGHS)
    with pytest.raises(SpaceError, match="anchors and aliases"):
        load_space_file(data / "space.yaml")


def test_a_yaml_file_past_the_size_cap_is_not_parsed(roots: dict) -> None:
    from mlcore.core.spec import SpecError
    from mlcore.training.spec import parse_advanced

    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    padded = data / "padded"
    shutil.copytree(data / "small", padded)
    (padded / "data.yaml").write_text((padded / "data.yaml").read_text() + "# " + "x" * (2 << 20) + "\n")
    dataset = load_dataset(padded)
    refused = [i for i in dataset.issues if i.code == "yaml_error" and i.severity == "error"]
    assert refused and "larger than 1 MiB" in refused[0].message and not dataset.splits
    with pytest.raises(SpecError, match="larger than 1 MiB"):
        parse_advanced("mosaic: 0.5\n" + "#" * (2 << 20))


@pytest.mark.slow
def test_a_class_name_with_a_line_break_writes_no_line_of_its_own_into_train_log(roots: dict) -> None:
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    crafted = data / "newline"
    shutil.copytree(data / "small", crafted)
    spec = yaml.safe_load((crafted / "data.yaml").read_text())
    spec["names"] = [f"{n}\nFAKE all images verified, model approved ({n})" for n in spec["names"]]
    (crafted / "data.yaml").write_text(yaml.safe_dump(spec))
    settings = load_settings()
    job = submit_training(tiny_spec(crafted, experiment="newline"), settings)
    until_final(job.id, settings, 600)
    final = JobStore(settings.outputs_root / "jobs.db").get(job.id)
    assert final.state is JobState.COMPLETED, final.error
    log = (Path(final.run_dir) / "train.log").read_text(errors="replace")
    assert not any(line.lstrip().startswith("FAKE") for line in log.splitlines()), "a class name wrote a log line"
    assert "\\nFAKE all images verified" in log  # the names did reach the log (per-class metrics), written out


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_a_token_sent_in_the_query_string_is_refused_and_kept_out_of_the_access_log(tmp_path: Path) -> None:
    import os
    import signal
    import time

    import requests

    from tests.conftest import PROJECT_ROOT, free_port

    token = "query-string-token-0123456789abcdef"
    port, log_file = free_port(), tmp_path / "api.log"
    env = {**os.environ, "ML_STUDIO_OUTPUTS": str(tmp_path / "out"), "ML_STUDIO_API_TOKEN": token}
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlcore", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}{API}/status"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert server.poll() is None, log_file.read_text()
                try:
                    requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                    break
                except requests.ConnectionError:
                    time.sleep(0.3)
            answers = [
                requests.get(url, params=params, timeout=30)
                for params in ({"token": token}, {"access_token": token}, {"lines": "5", "q": token})
            ]
            allowed = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    written = log_file.read_text()
    assert token not in written
    assert f"{API}/status?token=***" in written and "lines=5&q=***" in written, written  # the requests were logged
    assert [a.status_code for a in answers] == [401, 401, 401] and allowed.status_code == 200
    assert "never accepted" in answers[0].json()["detail"]
