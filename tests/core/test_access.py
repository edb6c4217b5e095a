"""Who may use a shared studio, and who may stop or cancel whose job; the audit trail."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mlcore.core import paths
from mlcore.core.access import is_allowed, login_configured
from mlcore.core.errors import NotYourJob
from mlcore.core.settings import Settings, load_settings
from mlcore.jobs.control import cancel_job, stop_job
from mlcore.jobs.store import JobState, JobStore
from tests.conftest import PROJECT_ROOT


def test_the_allow_list_takes_addresses_and_domains() -> None:
    allowed = ("ana@lab.example", "@team.example")
    assert is_allowed("ana@lab.example", allowed) and is_allowed("ANA@Lab.Example ", allowed)
    assert is_allowed("bo@team.example", allowed)
    assert not is_allowed("bo@lab.example", allowed) and not is_allowed("bo@team.example.evil", allowed)
    assert not is_allowed("", allowed) and not is_allowed(None, allowed) and not is_allowed("ana@lab.example", ())


def test_login_is_configured_only_by_a_complete_auth_section(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    assert not login_configured((secrets,))
    secrets.write_text('[auth]\nredirect_uri = "http://x/oauth2callback"\n')
    assert not login_configured((secrets,))  # no cookie secret: Streamlit's login would not work
    secrets.write_text('[auth]\nredirect_uri = "http://x/oauth2callback"\ncookie_secret = "s"\nclient_id = "c"\n')
    assert login_configured((tmp_path / "missing.toml", secrets))
    secrets.write_text("[auth\nbroken")
    assert not login_configured((secrets,))


def test_admins_and_allowed_users_come_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "ML_STUDIO_OUTPUTS": str(tmp_path),
        "ML_STUDIO_ALLOWED_USERS": "Ana@Lab.example, @team.example",
        "ML_STUDIO_ADMINS": "boss@lab.example",
    }
    settings = load_settings(environ)
    assert settings.allowed_users == ("ana@lab.example", "@team.example")
    assert settings.admins == ("local", "boss@lab.example")


def test_only_the_owner_or_an_admin_stops_or_cancels_a_job_and_it_is_recorded(settings: Settings) -> None:
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    job = store.submit(
        "training", {"epochs": 1}, str(settings.outputs_root / "trainings" / "p" / "a"), "ana@lab.example"
    )
    for action in (stop_job, cancel_job):
        with pytest.raises(NotYourJob, match="started by ana@lab.example"):
            action(job.id, settings, actor="bo@lab.example")
    assert store.get(job.id).state is JobState.QUEUED
    boss = dataclasses.replace(settings, admins=("local", "boss@lab.example"))
    assert cancel_job(job.id, boss, actor="boss@lab.example").state is JobState.CANCELLED
    mine = store.submit(
        "training", {"epochs": 1}, str(settings.outputs_root / "trainings" / "p" / "b"), "bo@lab.example"
    )
    assert stop_job(mine.id, settings, actor="bo@lab.example").state is JobState.CANCELLED  # a queued job: cancelled
    assert [(e["actor"], e["action"]) for e in store.events(job.id)] == [
        ("ana@lab.example", "submitted"),
        ("boss@lab.example", "cancelled"),
    ]
    assert [(e["actor"], e["action"]) for e in store.events(mine.id)][-1] == ("bo@lab.example", "cancelled")


def test_with_login_configured_the_app_shows_only_a_login_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ui.auth.login_configured", lambda: True)
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert "log in to use it" in "\n".join(i.value for i in at.info)
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.metric and not at.dataframe  # no page of the studio was drawn
