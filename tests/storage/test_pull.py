"""Datasets pulled from a real S3 server (SeaweedFS `weed mini` on 127.0.0.1): the first pull fetches every object,
a second one only what changed; what a bucket must not do to the studio is refused with a message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlcore.core.settings import Settings, load_settings
from mlcore.datasets.loader import load_dataset
from mlcore.storage.locations import StorageError, parse_target
from mlcore.storage.pull import INDEX, objects_folder, pull
from tests.conftest import PROJECT_ROOT
from tests.s3_server import SECRET_KEY, SeaweedServer, seaweedfs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    with seaweedfs(tmp_path_factory.mktemp("s3"), buckets=("data", "other")) as running:
        yield running


def upload(server: SeaweedServer, folder: Path, bucket: str, prefix: str) -> int:
    s3 = server.client()
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        s3.upload_file(str(path), bucket, prefix + path.relative_to(folder).as_posix())
    return len(files)


@pytest.fixture
def studio(server: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in {**server.env, "ML_STUDIO_OUTPUTS": str(tmp_path / "out")}.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_a_dataset_is_pulled_then_only_what_changed_is_fetched_again(
    server: SeaweedServer, studio: Settings, small_dataset: Path
) -> None:
    count = upload(server, small_dataset, "data", "logos/v1/")
    first = pull("s3://data/logos/v1", studio)
    assert (first.objects, first.fetched, first.reused) == (count, count, 0)
    dataset = load_dataset(first.path, studio.dataset_roots)
    assert len(dataset.splits["train"]) == len(load_dataset(small_dataset).splits["train"])
    assert first.path.is_relative_to(studio.outputs_root / "datasets")
    label = next(p for p in (first.path / "labels" / "train").iterdir())
    server.client().put_object(Bucket="data", Key=f"logos/v1/labels/train/{label.name}", Body=b"0 0.5 0.5 0.2 0.2\n")
    second = pull("s3://data/logos/v1", studio)
    assert (second.fetched, second.reused) == (1, count - 1)
    assert second.fingerprint != first.fingerprint
    assert label.read_text() == "0 0.5 0.5 0.2 0.2\n"
    assert json.loads((first.path / INDEX).read_text())["fingerprint"] == second.fingerprint
    third = pull("s3://data/logos/v1", studio)
    assert (third.fetched, third.fingerprint) == (0, second.fingerprint)


def test_a_transfer_cut_off_half_way_goes_on_and_a_damaged_one_is_refused(
    server: SeaweedServer, studio: Settings, tmp_path: Path
) -> None:
    body = os.urandom(3 << 20)
    server.client().put_object(Bucket="data", Key="big/blob.bin", Body=body)
    target = parse_target("s3://data/big", studio)
    from mlcore.storage.pull import listing

    (item,) = listing(server.client(), target)
    blob = objects_folder(studio) / item.blob_name
    blob.parent.mkdir(parents=True)
    blob.with_suffix(".part").write_bytes(body[: 1 << 20])  # a first try stopped after 1 MiB
    pulled = pull(target, studio)
    assert pulled.bytes_fetched == len(body) - (1 << 20)
    assert (pulled.path / "blob.bin").read_bytes() == body
    blob.unlink()
    blob.with_suffix(".part").write_bytes(b"x" * (1 << 20))  # a partial file of other bytes
    with pytest.raises(StorageError, match="arrived damaged"):
        pull(target, studio)


def test_a_download_key_is_dropped_and_the_bucket_is_left_as_it_is(server: SeaweedServer, studio: Settings) -> None:
    text = "path: .\ntrain: images\nval: images\nnames: {0: a}\ndownload: bash -c 'touch /tmp/pwned'\n"
    s3 = server.client()
    s3.put_object(Bucket="data", Key="risky/data.yaml", Body=text.encode())
    s3.put_object(Bucket="data", Key="risky/images/a.jpg", Body=b"not really")
    pulled = pull("s3://data/risky/", studio)
    assert "download" not in (pulled.path / "data.yaml").read_text()
    assert any("`download:` entry was dropped" in w for w in pulled.warnings)
    assert s3.get_object(Bucket="data", Key="risky/data.yaml")["Body"].read().decode() == text


@pytest.mark.parametrize(
    ("url", "env", "says"),
    [
        ("s3://data/../other/x", {}, "tries to leave its prefix"),
        ("s3://nope-no-bucket/x", {}, "there is no bucket 'nope-no-bucket'"),
        ("s3://data/empty-prefix/", {}, "there is nothing under s3://data/empty-prefix/"),
        ("s3://other/x", {"ML_STUDIO_S3_BUCKETS": "data"}, "is not one the studio may read"),
        ("s3://data/logos", {"AWS_SECRET_ACCESS_KEY": "wrong-secret-value"}, "refused the credentials"),
        ("s3://data/logos", {"ML_STUDIO_S3_ENDPOINT": "http://user:pw@127.0.0.1:1"}, "without credentials in it"),
        ("ftp://data/logos", {}, "is not s3://BUCKET/PREFIX"),
    ],
)
def test_what_a_pull_cannot_do_is_said_without_a_credential(
    studio: Settings, monkeypatch: pytest.MonkeyPatch, url: str, env: dict, says: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(StorageError) as refused:
        pull(url, load_settings())
    assert says in str(refused.value)
    assert SECRET_KEY not in str(refused.value) and "wrong-secret-value" not in str(refused.value)


class _Listing:
    """What a server that keeps keys with '..' in them (AWS does) lists under a prefix."""

    def get_paginator(self, _: str) -> _Listing:
        return self

    def paginate(self, **_: str) -> list[dict]:
        return [{"Contents": [{"Key": "sneaky/a/../../../etc/x", "ETag": '"0"', "Size": 1}]}]


def test_a_key_in_the_bucket_that_leaves_its_prefix_is_refused(server: SeaweedServer, studio: Settings) -> None:
    from mlcore.storage.pull import listing

    with pytest.raises(StorageError, match="tries to leave its prefix"):
        listing(_Listing(), parse_target("s3://data/sneaky", studio))
    with pytest.raises(Exception, match="InvalidRequest"):  # SeaweedFS does not even store such a key
        server.client().put_object(Bucket="data", Key="sneaky/a/../../../etc/x", Body=b"x")


def test_the_command_line_pulls_with_progress_and_says_when_it_is_no_dataset(
    server: SeaweedServer, studio: Settings, small_dataset: Path, tmp_path: Path
) -> None:
    upload(server, small_dataset, "data", "cli/v1/")
    server.client().put_object(Bucket="data", Key="notes/readme.txt", Body=b"hello")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    run = [sys.executable, "-m", "mlcore", "storage"]
    done = subprocess.run([*run, "pull", "s3://data/cli/v1", "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["fetched"] > 0 and "objects" in done.stderr
    nothing = subprocess.run([*run, "pull", "s3://data/notes"], env=env, capture_output=True, text=True)
    assert nothing.returncode == 2 and "holds no YOLO dataset" in nothing.stderr
    checked = subprocess.run([*run, "check", "--json"], env=env, capture_output=True, text=True)
    assert checked.returncode == 0 and json.loads(checked.stdout)[0]["ok"]
    wrong = subprocess.run(
        [*run, "check"], env={**env, "AWS_SECRET_ACCESS_KEY": "nope-nope"}, capture_output=True, text=True
    )
    assert wrong.returncode == 1 and "refused the credentials" in wrong.stdout and "nope-nope" not in wrong.stdout


@pytest.mark.slow
def test_a_dataset_in_a_bucket_is_validated_and_trained_on_through_its_url(
    server: SeaweedServer, studio: Settings, small_dataset: Path
) -> None:
    upload(server, small_dataset, "data", "train/v1/")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    run = [sys.executable, "-m", "mlcore"]
    checked = subprocess.run(
        [*run, "validate", "s3://data/train/v1", "--json"], env=env, capture_output=True, text=True
    )
    assert checked.returncode in (0, 1), checked.stderr  # 1: the small dataset's own errors, if it has any
    assert json.loads(checked.stdout)["counts"]
    trained = subprocess.run(
        [*run, "train", "--data", "s3://data/train/v1", "--epochs", "1", "--imgsz", "64", "--batch", "8",
         "--workers", "0", "--device", "cpu", "--project", "s3", "--experiment", "v1", "--no-plots", "--wait"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    config = (studio.outputs_root / "trainings" / "s3" / "v1" / "training_config.yaml").read_text()
    assert str(studio.outputs_root / "datasets" / "s3" / "data" / "train" / "v1") in config
    assert SECRET_KEY not in config and SECRET_KEY not in trained.stdout + trained.stderr


def test_a_version_is_made_from_a_bucket_and_written_to_one(
    server: SeaweedServer, studio: Settings, small_dataset: Path
) -> None:
    upload(server, small_dataset, "data", "versions-src/")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mlcore", "dataset", "version", "s3://data/versions-src", "--resplit", "60/20/20",
         "--tolerance", "0.3", "--name", "bucketed", "--to", "s3://other/team", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert manifest["parent"]["path"].startswith(str(studio.outputs_root / "datasets" / "s3" / "data"))
    keys = {o["Key"] for o in server.client().list_objects_v2(Bucket="other", Prefix="team/")["Contents"]}
    assert "team/datasets/bucketed/v1/data.yaml" in keys and "team/datasets/bucketed/v1/manifest.json" in keys


def test_the_validation_page_pulls_a_typed_bucket_and_validates_the_copy(
    server: SeaweedServer, studio: Settings, small_dataset: Path
) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    upload(server, small_dataset, "data", "page/v1/")
    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "datasets.py"), default_timeout=120).run()
    at.selectbox(key="datasets.pick").set_value(at.selectbox(key="datasets.pick").options[-1]).run()
    at.text_input(key="datasets.typed").set_value("s3://data/page/v1").run()
    assert "pulls the dataset" in "\n".join(str(c.value) for c in at.caption)
    at.button(key="datasets.validate").click().run()
    assert not at.exception, at.exception
    assert at.text_input(key="datasets.typed").value.endswith("datasets/s3/data/page/v1")
    assert {m.label for m in at.metric} >= {"Images", "Errors"}  # the copy was validated


def test_the_api_validates_a_bucket_and_its_refusals_carry_no_credential(
    server: SeaweedServer, studio: Settings, small_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    upload(server, small_dataset, "data", "api/v1/")
    with TestClient(create_api(load_settings())) as client:
        answer = client.post("/api/v1/ml/dataset/validate", json={"dataset_path": "s3://data/api/v1"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["verdict"] in ("ready", "ready_with_warnings", "not_ready")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-wrong-secret-for-the-api")
    with TestClient(create_api(load_settings())) as client:
        refused = client.post("/api/v1/ml/dataset/validate", json={"dataset_path": "s3://data/api/v1"})
        assert refused.status_code == 400 and "refused the credentials" in refused.json()["detail"]
        assert "a-wrong-secret-for-the-api" not in refused.text and SECRET_KEY not in refused.text


def test_the_pickers_pull_a_bucket_and_then_list_its_copy_by_its_url(
    server: SeaweedServer, studio: Settings, small_dataset: Path
) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    upload(server, small_dataset, "data", "picker/v1/")
    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "training.py"), default_timeout=120).run()
    at.text_input(key="train.dataset.url").set_value("s3://nowhere-bucket/x").run()
    at.button(key="train.dataset.pull").click().run()
    assert any("nowhere-bucket" in e.value for e in at.error), [e.value for e in at.error]  # said, not raised
    at.text_input(key="train.dataset.url").set_value("s3://data/picker/v1").run()
    at.button(key="train.dataset.pull").click().run()
    assert not at.exception, at.exception
    picker = at.selectbox(key="train.dataset")
    copy = str(studio.outputs_root / "datasets" / "s3" / "data" / "picker" / "v1")
    assert picker.value == copy  # the copy is picked and the page goes on with it
    assert "s3://data/picker/v1/  (pulled just now)" in picker.options


def test_a_job_on_a_cluster_node_reads_the_nodes_own_copy_and_a_changed_bucket_refuses_it(
    server: SeaweedServer, studio: Settings, small_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcore.storage.node_copies import on_this_node

    upload(server, small_dataset, "data", "node/v1/")
    submitted = pull("s3://data/node/v1", studio).path  # what the studio pulled and validated at submit
    monkeypatch.setenv("ML_STUDIO_NODE_CACHE", str(tmp_path / "node"))
    monkeypatch.setenv("ML_STUDIO_EXECUTOR", "ray")
    node = load_settings()
    said: list[str] = []
    spec = {"dataset_path": str(submitted / "data.yaml"), "epochs": 3, "model": str(tmp_path / "m.pt")}
    local = on_this_node(spec, node, said.append)
    assert local["dataset_path"] == str(tmp_path / "node" / "datasets" / "s3" / "data" / "node" / "v1" / "data.yaml")
    assert (local["epochs"], local["model"]) == (3, spec["model"])  # what is no pulled copy is left as it is
    assert load_dataset(Path(local["dataset_path"]).parent, node.dataset_roots)  # an allowed folder on the node
    assert any("Pulling s3://data/node/v1/" in line for line in said)
    server.client().put_object(Bucket="data", Key="node/v1/labels/train/extra.txt", Body=b"")
    with pytest.raises(StorageError, match="changed since this job was submitted"):
        on_this_node(spec, node, said.append)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(
        StorageError, match=r"this node \(.*\) could not pull .* Every node needs the storage credentials"
    ):
        on_this_node(spec, load_settings(), said.append)


def test_the_cache_says_what_it_holds_and_trimming_frees_only_what_no_copy_uses(
    server: SeaweedServer, studio: Settings, small_dataset: Path
) -> None:
    from mlcore.storage.cache import RECENT_S, cache_usage, trim_cache

    count = upload(server, small_dataset, "data", "trim/a/")
    upload(server, small_dataset, "data", "trim/b/")
    server.client().put_object(Bucket="data", Key="trim/b/only-in-b.txt", Body=b"b")
    pull("s3://data/trim/a", studio)
    b = pull("s3://data/trim/b", studio)
    usage = cache_usage(studio)
    assert usage["objects"] == count + 1 and usage["unused_objects"] == 0  # a and b share their images' bytes
    assert {r["url"] for r in usage["datasets"]} == {"s3://data/trim/a/", "s3://data/trim/b/"}
    old = time.time() - 2 * RECENT_S
    for blob in objects_folder(studio).iterdir():
        os.utime(blob, (old, old))
    with pytest.raises(StorageError, match="has no pulled copy here"):
        trim_cache(studio, ["s3://data/trim/c"])
    trimmed = trim_cache(studio, ["s3://data/trim/b"])
    assert trimmed["forgotten"] == [str(b.path)] and not b.path.exists()
    assert trimmed["objects_removed"] == 1 and trimmed["bytes_freed"] == 1  # only what b alone held
    assert load_dataset(studio.outputs_root / "datasets" / "s3" / "data" / "trim" / "a", studio.dataset_roots)
    again = pull("s3://data/trim/b", studio)
    assert (again.fetched, again.reused) == (1, count)


def test_the_api_pulls_says_what_the_cache_holds_writes_a_version_to_a_bucket_and_trims_for_admins_only(
    server: SeaweedServer, studio: Settings, small_dataset: Path
) -> None:
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    upload(server, small_dataset, "data", "api/v1/")
    with TestClient(create_api(studio)) as client:
        pulled = client.post("/api/v1/ml/storage/pull", json={"url": "s3://data/api/v1"})
        assert pulled.status_code == 200, pulled.text
        assert pulled.json()["path"] == str(studio.outputs_root / "datasets" / "s3" / "data" / "api" / "v1")
        refused = client.post("/api/v1/ml/storage/pull", json={"url": "s3://data/api/../../etc"})
        assert refused.status_code == 400 and "'..'" in refused.json()["detail"]
        assert client.get("/api/v1/ml/storage/cache").json()["datasets"][0]["url"] == "s3://data/api/v1/"
        assert [r["ok"] for r in client.get("/api/v1/ml/storage/check").json()] == [True]
        made = client.post(
            "/api/v1/ml/datasets/versions",
            json={
                "source": "s3://data/api/v1",
                "resplit": "60/20/20",
                "tolerance": 0.3,
                "name": "apiv",
                "to": "s3://other/api",
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["upload"]["state"] == "uploaded"
        keys = {o["Key"] for o in server.client().list_objects_v2(Bucket="other", Prefix="api/")["Contents"]}
        assert "api/datasets/apiv/v1/data.yaml" in keys
        text = json.dumps([pulled.json(), made.json()])
        assert SECRET_KEY not in text
        assert client.post("/api/v1/ml/storage/cache/trim", json={}).status_code == 200
    with TestClient(create_api(studio, token="t0k")) as client:
        answer = client.post("/api/v1/ml/storage/cache/trim", json={}, headers={"Authorization": "Bearer t0k"})
        assert answer.status_code == 403 and "administrators" in answer.json()["detail"]
