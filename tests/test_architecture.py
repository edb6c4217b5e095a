"""The house rules that keep the UI light: checked on the source, and in a fresh interpreter."""

from __future__ import annotations

import ast
import json
import re
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


# Each mlcore package's floor: a module may import from its own package and from lower floors only.
LAYERS = {
    "core": 0,
    "engine": 1,
    "tracking": 1,
    "storage": 1,
    "datasets": 2,
    "devices": 3,
    "cluster": 3,
    "jobs": 4,
    "training": 5,
    "runs": 6,
    "system": 6,
    "charts": 7,
    "evaluation": 8,
    "tuning": 8,
    "export": 9,
    "explain": 10,
    "predict": 11,
    "compare": 12,
    "quality": 12,
    "video": 12,
    "registry": 13,
    "pipelines": 14,
    "api": 15,
    "cli": 16,
}
ENTRY_POINTS = {
    "mlcore.__main__",
    "mlcore.worker",
    "mlcore.predict.service",
    "mlcore.cluster.node_check",
    "mlcore.training.augment_sampler",
    "mlcore.training.batch_timer",
}  # processes start here; nothing imports them
TOP = {"mlcore", *ENTRY_POINTS}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _mlcore_imports(path: Path) -> set[str]:
    """The mlcore modules `path` imports (relative imports resolved; `from pkg import module` counted)."""
    own = _module_name(path)
    anchor = own.split(".") if path.name == "__init__.py" else own.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    modules = {_module_name(p) for p in MLCORE.rglob("*.py")}
    return {name for name in found if name in modules and name != own}


def _package(module: str) -> str | None:
    """The domain package of an mlcore module ('jobs' for mlcore.jobs.store); None for the top modules."""
    return None if module in TOP else module.split(".")[1]


def test_every_package_has_a_floor_and_imports_point_down() -> None:
    graph = {_module_name(p): _mlcore_imports(p) for p in MLCORE.rglob("*.py")}
    loose = sorted(p.name for p in MLCORE.glob("*.py") if _module_name(p) not in TOP)
    assert not loose, f"modules at the top of mlcore/ instead of in a domain package: {loose}"
    unranked = sorted({_package(m) for m in graph} - set(LAYERS) - {None})
    assert not unranked, f"packages without a floor in LAYERS: {unranked}"
    upward = []
    for module, imports in graph.items():
        for target in imports:
            if target in ENTRY_POINTS:
                upward.append(f"{module} imports the entry point {target}")
            source, dest = _package(module), _package(target)
            if source and dest and source != dest and LAYERS[dest] >= LAYERS[source]:
                upward.append(f"{module} (floor {LAYERS[source]}) imports {target} (floor {LAYERS[dest]})")
    assert not upward, "imports that do not point down the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycle_between_mlcore_modules() -> None:
    graph = {_module_name(p): _mlcore_imports(p) for p in MLCORE.rglob("*.py")}
    # a package's face (its __init__) may import its own modules; that is not a cycle of the layout
    faces = {m for m in graph if (MLCORE.parent / m.replace(".", "/") / "__init__.py").exists()}
    graph = {m: {t for t in deps if not (m in faces and t.startswith(m + "."))} for m, deps in graph.items()}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = trail[trail.index(target) :] + [target] if target in trail else [module, target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


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
    """A fresh interpreter imports every mlcore module and runs every page's import lines (no mlflow either)."""
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
        + ["print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'ultralytics', 'mlflow'})))"]
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert heavy == [], f"importing the UI side pulled in {heavy[:5]}"
    assert "mlcore.devices.torch_probe" in modules and "mlcore.engine.env" in modules  # the risky ones were covered


# The modules outside mlcore/engine that import torch or Ultralytics themselves, and why; all run in a worker, the
# predictor or a child process. Everything else loads models, sets threads and asks torch through mlcore.engine.
ENGINE_USERS = {
    "mlcore.worker": "asks torch whether the GPU Ray gave a job is there",
    "mlcore.training.task": "builds a new model from its architecture's yaml; raises a checkpoint's epoch total",
    "mlcore.training.augment_sampler": "runs Ultralytics' own augmentation pipeline, in a child process",
    "mlcore.training.batch_timer": "times Ultralytics' training batches, in a child process",
    "mlcore.devices.torch_probe": "asks torch which GPUs it sees, in a child process",
    "mlcore.export.openvino_runtime": "gives Ultralytics' OpenVINO backend the export's precision hint",
    "mlcore.explain.gradient": "backward passes through the detection head's inputs, one per explained box",
}


def test_only_the_engine_and_the_listed_modules_import_torch_or_ultralytics() -> None:
    found = {}
    for path in MLCORE.rglob("*.py"):
        module = _module_name(path)
        heavy = sorted(n for n in _imported_modules(path) if n.split(".")[0] in {"torch", "ultralytics"})
        if heavy and module.split(".")[:2] != ["mlcore", "engine"]:
            found[module] = heavy
    new = sorted(set(found) - set(ENGINE_USERS))
    assert not new, (
        "imports of torch or Ultralytics outside mlcore.engine: "
        + "; ".join(f"{m} ({', '.join(found[m])})" for m in new)
        + ". Go through mlcore.engine (models.load_yolo, env.set_cpu_threads, ...), or add the module to "
        "ENGINE_USERS with the reason it must import them itself."
    )
    stale = sorted(set(ENGINE_USERS) - set(found))
    assert not stale, f"{stale} no longer import torch or Ultralytics: take them off ENGINE_USERS"


# Objects handed to a Streamlit-cached function as a handle: their identity is in the other arguments.
UNHASHED_HANDLES = {"Settings", "Detections"}


def test_cached_readers_keep_what_identifies_a_reading_in_the_cache_key() -> None:
    """Streamlit leaves parameters named with a leading underscore out of the cache key: a file's stamp
    passed as `_stamp` keeps the first reading for good (live charts froze at one epoch that way)."""
    offenders = []
    for path in PAGES + UI:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            cached = any(re.search(r"cache_(data|resource)", ast.unparse(d)) for d in node.decorator_list)
            for arg in node.args.args if cached else []:
                kind = ast.unparse(arg.annotation) if arg.annotation else ""
                if arg.arg.startswith("_") and kind not in UNHASHED_HANDLES:
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.name}({arg.arg}: {kind})")
    assert not offenders, "cached readers that leave an identifying argument out of the key:\n" + "\n".join(offenders)


def test_every_file_name_has_one_home_and_one_name() -> None:
    """core/paths is the one home of file names: a name assigned twice silently sends one writer to the other's
    file (the registry's audit trail once went to the label audit's audit.json)."""
    tree = ast.parse((MLCORE / "core" / "paths.py").read_text())
    assigned = [node.targets for node in tree.body if isinstance(node, ast.Assign)]
    names = [t.id for targets in assigned for t in targets if isinstance(t, ast.Name)]
    assert not {n for n in names if names.count(n) > 1}


def test_every_package_says_what_it_holds_and_the_map_in_mlcore_init_lists_the_floors_enforced_here() -> None:
    the_map = ast.get_docstring(ast.parse((MLCORE / "__init__.py").read_text())) or ""
    listed = {match[2]: int(match[1]) for match in re.finditer(r"^\s{4}(\d+)\s+([a-z]+)\s", the_map, re.M)}
    assert listed == LAYERS, "mlcore/__init__.py's map of floors differs from LAYERS: write the same in both"
    for package in LAYERS:
        face = ast.get_docstring(ast.parse((MLCORE / package / "__init__.py").read_text()))
        assert face and len(face.split()) >= 8, f"mlcore/{package}/__init__.py does not say what lives there"


KIND_CALLS = {"enqueue", "submit", "list", "latest", "jobs_of", "job"}  # functions whose arguments name a job kind


def _bare_kinds(path: Path, kinds: set[str]) -> list[str]:
    """Where `path` names a job kind by its bare string: job.kind compared with one, kind="...", or a call that
    takes a kind (enqueue, store.submit/list/latest, jobs_of, ctx.job) given one."""
    found = []

    def literal(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in kinds
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(literal(e) for e in node.elts)

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        named = None
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides):
                named = next((s for s in sides if literal(s)), None)
        elif isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            given = [k.value for k in node.keywords if k.arg == "kind"]
            given += node.args if called in KIND_CALLS else []
            named = next((a for a in given if literal(a)), None)
        if named is not None:
            found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {ast.unparse(node)[:90]}")
    return found


def test_every_job_kind_has_one_entry_in_the_kinds_table() -> None:
    """jobs/kinds.py is the one home of the kinds: each JobKind has its KindInfo, every runner of worker.TASKS runs
    a JobKind's declared task and every declared task has a runner, and no module names a kind by a bare string
    (a kind added without its entry, or a runner of an unknown kind, once failed only when a user started one)."""
    from mlcore.jobs.kinds import KINDS, JobKind
    from mlcore.worker import TASKS

    assert set(KINDS) == set(JobKind), f"JobKind members without a KindInfo: {set(JobKind) - set(KINDS)}"
    assert all(isinstance(kind, JobKind) for kind, _ in TASKS), f"runners of unknown kinds: {list(TASKS)}"
    declared = {(kind, task) for kind, info in KINDS.items() for task in info.tasks}
    missing, undeclared = declared - set(TASKS), set(TASKS) - declared
    assert not missing and not undeclared, f"tasks without a runner: {missing}; runners of other tasks: {undeclared}"
    home = MLCORE / "jobs" / "kinds.py"
    offenders = [
        hit
        for path in [*MLCORE.rglob("*.py"), *PAGES, *UI]
        if path != home
        for hit in _bare_kinds(path, {k.value for k in JobKind})
    ]
    assert not offenders, "job kinds named by a bare string (use JobKind):\n" + "\n".join(offenders)
