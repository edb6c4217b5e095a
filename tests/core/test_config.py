"""Streamlit settings the studio relies on (security and a light server)."""

import tomllib

from tests.conftest import PROJECT_ROOT


def test_streamlit_config_keeps_protection_on_and_watching_off() -> None:
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    server = config["server"]
    assert server["enableXsrfProtection"] is True
    assert server["enableStaticServing"] is False
    assert server["headless"] is True
    assert server["fileWatcherType"] == "none"  # watching .venv + ml_outputs costs a full core
    assert "ml_outputs" in server["folderWatchBlacklist"]
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] in {"type", "none"}  # no tracebacks in the page
    assert "address" not in server  # the bind address comes from ML_STUDIO_HOST via `mlcore app`


def test_secrets_and_outputs_are_not_committed() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert ".streamlit/secrets.toml" in ignored and "ml_outputs/*" in ignored and ".venv/" in ignored
