"""The house rules that keep the UI light: checked on the source, and in a fresh interpreter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

MLCORE = PROJECT_ROOT / "mlcore"
PAGES = sorted((PROJECT_ROOT / "pages").glob("*.py"))
UI = sorted((PROJECT_ROOT / "ui").glob("*.py"))  # what the pages share


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_mlcore_never_imports_streamlit() -> None:
    for path in MLCORE.rglob("*.py"):
        offenders = {n for n in _imported_modules(path) if n.split(".")[0] == "streamlit"}
        assert not offenders, f"{path.relative_to(PROJECT_ROOT)} imports {offenders}"


def test_only_settings_reads_the_environment() -> None:
    for path in list(MLCORE.rglob("*.py")) + PAGES + UI + [PROJECT_ROOT / "app.py"]:
        if path.name == "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
                raise AssertionError(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} reads the environment")


def test_pages_exist_and_the_frame_lists_them() -> None:
    frame = (PROJECT_ROOT / "app.py").read_text()
    assert PAGES, "pages/ is empty"
    for page in PAGES:
        assert f'"pages/{page.name}"' in frame, f"app.py does not list {page.name}"


def test_importing_mlcore_and_the_pages_loads_no_torch_or_ultralytics() -> None:
    """A fresh interpreter imports every mlcore module and runs every page's import lines."""
    page_imports = []
    for page in PAGES + UI + [PROJECT_ROOT / "app.py"]:
        tree = ast.parse(page.read_text())
        page_imports += [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = sorted(
        "mlcore." + ".".join(p.relative_to(MLCORE).with_suffix("").parts)
        for p in MLCORE.rglob("*.py")
        if p.name != "__main__.py"
    )
    code = "\n".join(
        ["import importlib, json, sys", *page_imports]
        + [f"importlib.import_module({m!r})" for m in modules]
        + ["print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'ultralytics'})))"]
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert heavy == [], f"importing the UI side pulled in {heavy[:5]}"
    assert "mlcore.torch_probe" in modules and "mlcore.engine_env" in modules  # the risky ones were covered
