"""Base models: pretrained weights added to the trusted models folder from the weights mirror (a local HTTP server
here, with Range support and a connection it can drop), a file on the server, or an upload (module, API, CLI,
page); resumed downloads; refusals that leave nothing behind; and a transfer training that starts from one.

The "pretrained" checkpoint is the session's tiny trained model (its weights/best.pt)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from mlcore.api.app import create_api
from mlcore.core.settings import Settings, load_settings
from mlcore.engine import base_weights as bw
from mlcore.engine import download
from mlcore.engine.architectures import family_of
from mlcore.engine.base_weights import BaseWeightsError, add_base, list_bases
from mlcore.engine.checkpoint import inspect_checkpoint
from mlcore.jobs.store import JobState, JobStore
from mlcore.runs.store import seed_weights
from mlcore.training.submit import submit_training
from tests.conftest import PROJECT_ROOT, engine_env_for, mlcore, tiny_spec, until_final

API = "/api/v1/ml"
SECRET = "s3cr3t-pw"  # the mirror's password: never in an answer, a record or a message
CLASSES = ["solara", "aqualine", "verdant", "nimbus", "ferro"]  # the demo dataset's


@dataclass
class Mirror:
    """A weights mirror on 127.0.0.1: `files` under /weights/ (Range honoured), `pages` served as HTML; each
    request's path, Range and Authorization kept in `requests`; `drops[name] = [n, times]` sends only n bytes of the
    next `times` answers for that file, then closes the connection."""

    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    pages: dict[str, bytes] = field(default_factory=dict)
    drops: dict[str, list[int]] = field(default_factory=dict)
    requests: list[dict[str, str | None]] = field(default_factory=list)

    def url(self, name: str = "", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/weights/{name}"

    def ranges(self, name: str) -> list[str | None]:
        return [r["range"] for r in self.requests if r["path"] == f"/weights/{name}"]


def _handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked = self.headers.get("Range")
            mirror.requests.append({"path": self.path, "range": asked, "auth": self.headers.get("Authorization")})
            name = self.path.removeprefix("/weights/")
            if name in mirror.pages:
                return self._answer(200, mirror.pages[name], {"Content-Type": "text/html"})
            data = mirror.files.get(name)
            if data is None:
                return self._answer(404, b"<html>not found</html>", {"Content-Type": "text/html"})
            start = int(re.fullmatch(r"bytes=(\d+)-", asked)[1]) if asked else 0  # type: ignore[index]
            if start >= len(data):
                return self._answer(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            headers = {"Accept-Ranges": "bytes", "ETag": '"v1"', "Content-Type": "application/octet-stream"}
            if asked:
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            drop = mirror.drops.get(name)
            cut = None
            if drop and drop[1] > 0:
                drop[1] -= 1
                cut = drop[0]
            self._answer(206 if asked else 200, data[start:], headers, cut)

        def _answer(self, status: int, body: bytes, headers: dict[str, str], cut: int | None = None) -> None:
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body if cut is None else body[:cut])
            self.wfile.flush()
            if cut is not None:
                self.close_connection = True  # the rest never comes: a dropped connection

    return Handler


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    served = Mirror()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))  # port 0: a free one
    served.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror) -> Settings:
    """Outputs and a dataset root of this test's own; the mirror (with credentials) configured."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("ML_STUDIO_OUTPUTS", str(tmp_path / "ml_outputs"))
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(tmp_path / "data"))
    monkeypatch.delenv("ML_STUDIO_MODEL_ROOTS", raising=False)
    monkeypatch.setenv("ML_STUDIO_WEIGHTS_MIRROR", f"http://studio:{SECRET}@127.0.0.1:{mirror.port}/weights/")
    return load_settings()


MAKE = r"""
import os, sys, torch
from pathlib import Path
from ultralytics.nn.tasks import ClassificationModel

out, marker = Path(sys.argv[1]), sys.argv[2]
model = ClassificationModel("yolo11n-cls.yaml", nc=3, verbose=False)
model.names = {0: "a", 1: "b", 2: "c"}
ckpt = {"model": model.half(), "ema": None, "optimizer": None, "epoch": -1, "train_args": {"task": "classify"}}
torch.save(ckpt, out / "classify.pt")
torch.save({"hello": 1}, out / "hello.pt")

class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {marker}",))

torch.save({"model": Payload()}, out / "evil.pt")
other = torch.load(sys.argv[3], map_location="cpu", weights_only=False)
other["date"] = "another day"
torch.save(other, out / "other.pt")
"""


@pytest.fixture(scope="session")
def files(trained: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The pretrained checkpoint, a second valid one with other bytes, a classification checkpoint, a pickle that
    is no checkpoint, and one whose unpickling would run a command (it creates `marker`)."""
    out = tmp_path_factory.mktemp("weights")
    marker = out / "unpickled"
    subprocess.run(
        [sys.executable, "-c", MAKE, str(out), str(marker), trained["model"]],
        env=engine_env_for(out / "engine"),
        check=True,
        capture_output=True,
        timeout=300,
    )
    pretrained = Path(trained["model"]).read_bytes()
    (out / "half.pt").write_bytes(pretrained[: len(pretrained) // 2])
    return {
        "pretrained": Path(trained["model"]),
        "marker": marker,
        **{name: out / f"{name}.pt" for name in ("classify", "hello", "evil", "other", "half")},
    }


class _Payload:
    """A bare pickle (no torch archive) whose loading would run a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _architecture(trained: dict[str, str]) -> str:
    """The architecture the session's model was trained with (Ultralytics' args.yaml names its definition)."""
    args = yaml.safe_load((Path(trained["model"]).parents[1] / "args.yaml").read_text())
    return Path(str(args["model"])).stem


def _folder(settings: Settings) -> set[str]:
    folder = settings.model_roots[0]
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_a_file_name_is_fetched_from_the_mirror_checked_hashed_and_recorded(
    studio: Settings, mirror: Mirror, files: dict[str, Path], trained: dict[str, str]
) -> None:
    data = files["pretrained"].read_bytes()
    mirror.files["yolo-best.pt"] = data
    seen: list[tuple[int, int | None]] = []
    base = add_base("yolo-best.pt", studio, progress=lambda done, total: seen.append((done, total)), by="ana")

    assert base.path == studio.model_roots[0] / "yolo-best.pt" and base.path.read_bytes() == data
    assert base.sha256 == hashlib.sha256(data).hexdigest()
    assert base.architecture == _architecture(trained) and base.family == family_of(base.architecture)
    assert list(base.classes) == CLASSES and base.imgsz == 128 and "AGPL-3.0" in base.licence
    assert base.source == mirror.url("yolo-best.pt") and seen[-1] == (len(data), len(data))
    assert mirror.requests[0]["auth"] and mirror.requests[0]["auth"].startswith("Basic ")  # the mirror's credentials
    record = json.loads((studio.model_roots[0] / "yolo-best.pt.json").read_text())
    assert record["sha256"] == base.sha256 and record["classes"] == CLASSES and record["added_by"] == "ana"
    assert {"source", "architecture", "family", "imgsz", "added_at", "licence"} <= set(record)
    assert SECRET not in json.dumps(record) and SECRET not in json.dumps(base.to_dict())
    assert _folder(studio) == {"yolo-best.pt", "yolo-best.pt.json"}  # no .part left
    assert list_bases(studio) == [base] and base.path in seed_weights(studio)

    again = add_base(mirror.url("yolo-best.pt"), studio)  # the same bytes under the same name: nothing changes
    assert again.already_present and again.sha256 == base.sha256 and again.added_by == "ana"


def test_a_file_on_the_server_is_added_from_the_allowed_folders_only(
    studio: Settings, files: dict[str, Path], tmp_path: Path
) -> None:
    shared = studio.dataset_roots[0] / "shared" / "yolo.pt"
    shared.parent.mkdir()
    shared.write_bytes(files["pretrained"].read_bytes())
    base = add_base(str(shared), studio, name="team-base")
    assert (
        base.path.name == "team-base.pt"
        and base.source == str(shared)
        and base.path.read_bytes() == shared.read_bytes()
    )
    assert shared.exists()  # copied, not moved

    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes(shared.read_bytes())
    with pytest.raises(BaseWeightsError, match="outside the allowed folders") as refused:
        add_base(str(outside), studio)
    assert refused.value.code == bw.BAD_PATH
    with pytest.raises(BaseWeightsError, match="letters, digits") as bad:
        add_base(str(shared), studio, name="../escape")
    assert bad.value.code == bw.BAD_NAME
    with pytest.raises(BaseWeightsError, match="other content") as taken:
        add_base(str(_copy_in(files["other"], studio)), studio, name="team-base")
    assert taken.value.code == bw.EXISTS and base.path.read_bytes() == shared.read_bytes()
    assert _folder(studio) == {"team-base.pt", "team-base.pt.json"}


def _copy_in(path: Path, settings: Settings) -> Path:
    copy = settings.dataset_roots[0] / path.name
    copy.write_bytes(path.read_bytes())
    return copy


def test_a_dropped_connection_is_resumed_with_a_range_request(
    studio: Settings, mirror: Mirror, files: dict[str, Path]
) -> None:
    data = files["pretrained"].read_bytes()
    mirror.files["y.pt"] = data
    mirror.drops["y.pt"] = [len(data) // 3, 1]
    base = add_base("y.pt", studio)
    assert base.path.read_bytes() == data
    assert mirror.ranges("y.pt") == [None, f"bytes={len(data) // 3}-"]


def test_a_download_the_network_keeps_stopping_is_kept_for_the_next_add_and_never_listed(
    studio: Settings, mirror: Mirror, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "RETRIES", 1)
    monkeypatch.setattr(download, "BACKOFF_S", 0.0)
    data = files["pretrained"].read_bytes()
    mirror.files["y.pt"] = data
    mirror.drops["y.pt"] = [1000, 2]
    with pytest.raises(BaseWeightsError, match="add it again to continue") as stopped:
        add_base("y.pt", studio)
    assert stopped.value.code == bw.INTERRUPTED and SECRET not in str(stopped.value)
    part = studio.model_roots[0] / ".y.pt.part"
    assert part.stat().st_size == 2000 and _folder(studio) == {".y.pt.part"}
    assert seed_weights(studio) == [] and list_bases(studio) == []

    base = add_base("y.pt", studio)  # the mirror answers in full again: the kept bytes are continued
    assert base.path.read_bytes() == data and mirror.ranges("y.pt") == [None, "bytes=1000-", "bytes=2000-"]
    assert _folder(studio) == {"y.pt", "y.pt.json"}


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("html", bw.NOT_WEIGHTS, "web page"),
        ("truncated", bw.NOT_WEIGHTS, "truncated"),
        ("classify", bw.WRONG_TASK, "classification checkpoint"),
        ("hello", bw.NOT_A_CHECKPOINT, "not an Ultralytics checkpoint"),
        ("evil", bw.NOT_WEIGHTS, "refused unread: it names posix.system"),
        ("evil_pickle", bw.NOT_WEIGHTS, "refused unread"),
        ("other_host", bw.NOT_THE_MIRROR, "not on the weights mirror"),
        ("no_mirror", bw.NO_MIRROR, "ML_STUDIO_WEIGHTS_MIRROR"),
    ],
)
def test_refusals_say_what_is_wrong_and_leave_nothing_behind(
    studio: Settings, mirror: Mirror, files: dict[str, Path], case: str, code: str, words: str
) -> None:
    mirror.pages["login.pt"] = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    mirror.files["half.pt"] = files["half"].read_bytes()
    before = _folder(studio)
    settings = replace(studio, weights_mirror="") if case == "no_mirror" else studio
    sources: dict[str, str | bytes] = {
        "html": "login.pt",
        "truncated": "half.pt",
        "hello": files["hello"].read_bytes(),
        "evil": files["evil"].read_bytes(),
        "evil_pickle": pickle.dumps(_Payload(files["marker"])),
        "other_host": mirror.url("half.pt", host="localhost"),
        "no_mirror": "yolo26n.pt",
    }
    source = sources[case] if case in sources else str(_copy_in(files[case], studio))
    with pytest.raises(BaseWeightsError) as refused:
        add_base(source, settings, name=case)
    message = str(refused.value)
    assert refused.value.code == code and words in message, message
    assert SECRET not in message and "Traceback" not in message
    assert _folder(studio) == before  # no .pt, .part or .json
    assert not files["marker"].exists()  # the evil pickle was never unpickled


def test_the_api_adds_uploads_and_mirror_files_lists_them_and_refuses_with_4xx(
    studio: Settings, mirror: Mirror, files: dict[str, Path]
) -> None:
    data = files["pretrained"].read_bytes()
    mirror.files["yolo-best.pt"] = data
    with TestClient(create_api(studio)) as client:
        upload = {"file": ("coco-y.pt", data, "application/octet-stream")}
        added = client.post(f"{API}/models/bases/upload", files=upload)
        assert added.status_code == 201, added.text
        doc = added.json()
        assert doc["name"] == "coco-y" and doc["source"] == "upload" and doc["classes"] == CLASSES
        assert doc["sha256"] == hashlib.sha256(data).hexdigest() and Path(doc["path"]).read_bytes() == data
        same = client.post(f"{API}/models/bases/upload", files=upload)
        assert same.status_code == 200 and same.json()["already_present"] is True
        other = {"file": ("x.pt", files["other"].read_bytes(), "application/octet-stream")}
        taken = client.post(f"{API}/models/bases/upload", files=other, data={"name": "coco-y"})
        assert taken.status_code == 409 and taken.json()["error"] == "exists"

        fetched = client.post(f"{API}/models/bases", json={"source": "yolo-best.pt", "name": "from-mirror"})
        assert fetched.status_code == 201, fetched.text
        assert fetched.json()["source"] == mirror.url("yolo-best.pt")
        listed = client.get(f"{API}/models/bases")
        assert listed.status_code == 200 and [b["name"] for b in listed.json()] == ["coco-y", "from-mirror"]

        refusals = [
            client.post(f"{API}/models/bases", json={"source": mirror.url("x.pt", host="localhost")}),
            client.post(f"{API}/models/bases", json={"source": "missing.pt"}),
            client.post(f"{API}/models/bases", json={"source": "/etc/passwd"}),
            client.post(f"{API}/models/bases", json={"source": "yolo-best.pt", "name": "a/b"}),
            client.post(f"{API}/models/bases", json={"source": "yolo-best.pt", "extra": 1}),
            client.post(
                f"{API}/models/bases/upload",
                files={"file": ("page.pt", b"<html>login</html>", "text/html")},
            ),
        ]
        assert [(r.status_code, r.json()["error"]) for r in refusals][:4] == [
            (400, "not_the_mirror"),
            (404, "not_on_mirror"),
            (400, "bad_path"),
            (400, "bad_name"),
        ]
        assert refusals[4].status_code == 422 and (refusals[5].status_code, refusals[5].json()["error"]) == (
            422,
            "not_weights",
        )
        assert all(r.json()["detail"] and SECRET not in r.text for r in refusals)
    assert _folder(studio) == {"coco-y.pt", "coco-y.pt.json", "from-mirror.pt", "from-mirror.pt.json"}


def test_the_command_line_adds_a_base_as_one_json_document_and_lists_it(
    studio: Settings, mirror: Mirror, files: dict[str, Path]
) -> None:
    mirror.files["yolo-best.pt"] = files["pretrained"].read_bytes()
    env = {
        "ML_STUDIO_OUTPUTS": str(studio.outputs_root),
        "ML_STUDIO_DATASET_ROOTS": str(studio.dataset_roots[0]),
        "ML_STUDIO_WEIGHTS_MIRROR": studio.weights_mirror,
    }
    added = mlcore("models", "add-base", "yolo-best.pt", "--name", "cli-base", "--json", extra_env=env)
    assert added.returncode == 0, added.stderr
    doc = json.loads(added.stdout)
    assert doc["path"] == str(studio.model_roots[0] / "cli-base.pt") and doc["classes"] == CLASSES
    assert doc["sha256"] == hashlib.sha256(files["pretrained"].read_bytes()).hexdigest()
    assert doc["architecture"] and doc["source"] == mirror.url("yolo-best.pt") and SECRET not in added.stdout
    listed = mlcore("models", "bases", "--json", extra_env=env)
    assert [b["name"] for b in json.loads(listed.stdout)] == ["cli-base"]

    refused = mlcore("models", "add-base", "http://elsewhere.example/yolo26n.pt", extra_env=env)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and len(lines) == 1 and lines[0].startswith("mlcore: error:")
    assert "not on the weights mirror" in lines[0] and SECRET not in refused.stderr
    unset = mlcore("models", "add-base", "yolo26n.pt", extra_env={**env, "ML_STUDIO_WEIGHTS_MIRROR": ""})
    assert unset.returncode == 1 and "set ML_STUDIO_WEIGHTS_MIRROR" in unset.stderr


def test_a_transfer_training_starts_from_an_added_base_with_other_classes(
    studio: Settings,
    mirror: Mirror,
    files: dict[str, Path],
    small_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    two = tmp_path / "data" / "two"  # another class count than the base's five, as COCO's 80 are for a team
    shutil.copytree(small_dataset, two)
    for label in two.glob("labels/*/*.txt"):
        label.write_text(
            "".join(f"{int(line.split()[0]) % 2} {line.split(' ', 1)[1]}\n" for line in label.read_text().splitlines())
        )
    config = yaml.safe_load((two / "data.yaml").read_text())
    (two / "data.yaml").write_text(yaml.safe_dump({**config, "nc": 2, "names": {0: "left", 1: "right"}}))
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(two.parent))
    settings = load_settings()
    mirror.files["yolo-best.pt"] = files["pretrained"].read_bytes()
    base = add_base("yolo-best.pt", settings)
    assert base.path in seed_weights(settings) and len(base.classes) == 5
    job = submit_training(
        tiny_spec(two, mode="transfer", base_model_path=str(base.path), experiment="from-base"), settings
    )
    until_final(job.id, settings, timeout_s=300)
    ended = JobStore(settings.outputs_root / "jobs.db").get(job.id)
    assert ended.state is JobState.COMPLETED, ended.error
    assert ended.spec["base_model_path"] == str(base.path)
    assert (Path(ended.run_dir) / "weights" / "best.pt").exists()
    recorded = yaml.safe_load((Path(ended.run_dir) / "training_config.yaml").read_text())
    assert recorded["model_architecture"] == base.architecture  # the base's, written by the worker
    assert inspect_checkpoint(Path(ended.run_dir) / "weights" / "best.pt", settings).names == {0: "left", 1: "right"}


def _panel() -> None:
    from mlcore.core.settings import load_settings
    from ui.base_weights import base_weights_panel

    base_weights_panel(load_settings())


def test_the_panel_adds_from_the_mirror_and_says_what_to_do_without_one(
    studio: Settings, mirror: Mirror, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror.files["yolo-best.pt"] = files["pretrained"].read_bytes()
    at = AppTest.from_function(_panel, default_timeout=120).run()
    assert not at.exception, at.exception
    at.segmented_control(key="bases.how").set_value("From the weights mirror").run()
    at.text_input(key="bases.url").set_value("yolo-best.pt").run()
    at.text_input(key="bases.name").set_value("page-base").run()
    at.button(key="bases.add").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "5" and metrics["Architecture"] == list_bases(studio)[0].architecture
    assert "AGPL-3.0" in "\n".join(c.value for c in at.caption) and at.dataframe
    assert (studio.model_roots[0] / "page-base.pt").exists()

    monkeypatch.delenv("ML_STUDIO_WEIGHTS_MIRROR")
    bare = AppTest.from_function(_panel, default_timeout=60).run()
    info = "\n".join(i.value for i in bare.info)
    assert "no pretrained weights on this machine" in info and "ML_STUDIO_WEIGHTS_MIRROR" in info
    assert "registered version" in info
    assert bare.segmented_control(key="bases.how").options == ["Upload a .pt", "A file on this machine"]


def test_the_training_page_offers_the_panel_in_transfer_mode(studio: Settings) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "training.py"), default_timeout=60).run()
    at.segmented_control(key="train.mode").set_value("transfer").run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="bases.how").options[-1] == "From the weights mirror"


def test_the_ui_and_api_processes_never_import_torch() -> None:
    check = (
        "import sys, ui.base_weights, mlcore.engine.base_weights, mlcore.api.routes.models, mlcore.cli.models; "
        "print(sorted({'torch', 'ultralytics'} & set(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", check], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr
