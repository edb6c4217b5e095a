from pathlib import Path

import pytest

from mlcore.core.settings import PROJECT_ROOT, SettingsError, load_settings


def test_defaults_keep_everything_local() -> None:
    settings = load_settings({})
    assert settings.outputs_root == (PROJECT_ROOT / "ml_outputs").resolve()
    assert settings.host == "127.0.0.1" and settings.is_loopback
    assert settings.port == 8501
    assert settings.outputs_root / "datasets" in settings.dataset_roots
    assert settings.model_roots == (settings.outputs_root / "models",)
    assert settings.demo_dataset_dir == settings.outputs_root / "datasets" / "demo"
    assert settings.engine_config_dir == settings.outputs_root / ".ultralytics"


def test_environment_overrides_every_setting(tmp_path: Path) -> None:
    env = {
        "ML_STUDIO_OUTPUTS": str(tmp_path / "out"),
        "ML_STUDIO_DATASET_ROOTS": f"{tmp_path / 'a'}:{tmp_path / 'b'}:",
        "ML_STUDIO_MODEL_ROOTS": str(tmp_path / "models"),
        "ML_STUDIO_HOST": "0.0.0.0",
        "ML_STUDIO_PORT": "8600",
    }
    settings = load_settings(env)
    assert settings.outputs_root == tmp_path.resolve() / "out"
    own = tmp_path.resolve() / "out" / "datasets"  # the studio's own (uploads, versions): always readable
    assert settings.dataset_roots == (tmp_path.resolve() / "a", tmp_path.resolve() / "b", own)
    assert settings.upload_max_bytes == 4096 * 2**20 and settings.upload_max_files == 200_000
    assert settings.model_roots == (tmp_path.resolve() / "models",)
    assert settings.host == "0.0.0.0" and not settings.is_loopback
    assert settings.port == 8600
    assert settings.environment["ML_STUDIO_PORT"] == "8600"


def test_relative_outputs_are_resolved_against_the_project() -> None:
    assert load_settings({"ML_STUDIO_OUTPUTS": "elsewhere"}).outputs_root == (PROJECT_ROOT / "elsewhere").resolve()


def test_symlinked_roots_are_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    settings = load_settings({"ML_STUDIO_DATASET_ROOTS": str(tmp_path / "link")})
    assert settings.dataset_roots[0] == real.resolve() and settings.dataset_roots[1] == settings.uploads_dir.parent


@pytest.mark.parametrize(
    ("port", "fragment"), [("http", "not a whole number"), ("0", "1 to 65535"), ("70000", "1 to 65535")]
)
def test_bad_port_says_what_to_use(port: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment) as info:
        load_settings({"ML_STUDIO_PORT": port})
    assert "ML_STUDIO_PORT" in str(info.value) and "8501" in str(info.value)


def test_blank_host_is_refused() -> None:
    with pytest.raises(SettingsError, match="ML_STUDIO_HOST"):
        load_settings({"ML_STUDIO_HOST": "  "})


def test_the_quick_start_says_how_to_use_ones_own_data_and_its_line_works() -> None:
    """A new user's first question: where do my datasets go? The Quick start answers with a line that works."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    quick_start = readme[readme.index("## Quick start") : readme.index("## Pages")]
    line = next(x.strip() for x in quick_start.splitlines() if x.strip().startswith("ML_STUDIO_DATASET_ROOTS="))
    value = line.split("=", 1)[1].split()[0]
    settings = load_settings({"ML_STUDIO_DATASET_ROOTS": value})
    assert Path("/data/datasets") in settings.dataset_roots
    assert settings.outputs_root / "datasets" in settings.dataset_roots  # the demo dataset stays in the pickers
    assert "ML_STUDIO_MODEL_ROOTS" in quick_start
