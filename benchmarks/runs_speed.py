"""How fast the Runs page and its readers are, on this machine.

1. A results.csv of 1,000 epochs: the studio's reader plus the six-panel Plotly figure (serialised
   as Streamlit sends it) against Ultralytics' own `plot_results` on the same file (polars +
   matplotlib PNG), in the same run. Goal: under 0.3 s.
2. 100 runs on disk (100 epochs each, with metrics.json): the app server started fresh, the Runs
   page opened in Chromium, timed from navigation until the runs table and the first chart are
   drawn; first visit and three more. Goal: under 1.5 s. For scale, the same is timed in the same
   run for the smallest Streamlit page that draws a table and a chart (Streamlit's own floor on
   this machine).

    python benchmarks/runs_speed.py [--runs 100] [--epochs 1000] [--visits 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.app_server import app_server  # noqa: E402
from mlcore.charts.training import training_history  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402
from mlcore.runs.results import read_results  # noqa: E402
from tests.run_fixture import make_run, results_csv  # noqa: E402


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def results_speed(work: Path, epochs: int) -> None:
    folder = work / "long"
    folder.mkdir()
    csv = folder / "results.csv"
    csv.write_text(results_csv(epochs))

    def studio() -> None:
        training_history(read_results(csv)).to_json()

    def ultralytics() -> None:
        from ultralytics.utils.plotting import plot_results

        plot_results(str(csv))

    ultralytics()  # imports and font loading are not what is compared
    studio()
    ours, theirs = best_of(studio), best_of(ultralytics)
    print(
        f"results.csv of {epochs} epochs, parse + figure: studio {ours:.3f} s (goal < 0.3 s), "
        f"Ultralytics plot_results {theirs:.3f} s: {theirs / ours:.1f}x faster"
    )


FLOOR_APP = """
import plotly.graph_objects as go
import streamlit as st

st.title("Floor")
st.dataframe({"a": [1, 2, 3]})
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
"""


def visit_times(command: list[str], env: dict, path: str, visits: int) -> list[float]:
    """Seconds from navigation until the first table and the first chart are drawn, per fresh tab."""
    from playwright.sync_api import sync_playwright

    with app_server(command, env) as (_server, url):
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for _ in range(visits):
                tab = browser.new_page(viewport={"width": 1400, "height": 1100})
                started = time.perf_counter()
                tab.goto(f"{url}/{path}")
                tab.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
                tab.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
                times.append(time.perf_counter() - started)
                tab.close()
            browser.close()
        return times


def page_speed(work: Path, runs: int, visits: int) -> None:
    outputs = work / "ml_outputs"
    for i in range(runs):
        make_run(outputs, f"project{i % 5}/exp{i:03d}", epochs=100)
    (work / "floor.py").write_text(FLOOR_APP)
    env = {**os.environ, "ML_STUDIO_OUTPUTS": str(outputs)}
    ours = visit_times([sys.executable, "serve_app.py", "run", "app.py"], env, "runs", visits)
    floor = visit_times([sys.executable, "-m", "streamlit", "run", str(work / "floor.py")], env, "", visits)
    later, floor_later = statistics.median(ours[1:] or ours), statistics.median(floor[1:] or floor)
    print(
        f"Runs page with {runs} runs, navigation to table and first chart: first visit {ours[0]:.2f} s, "
        f"then median {later:.2f} s (goal < 1.5 s)"
    )
    print(
        f"Streamlit floor (a page with one small table and one chart): first {floor[0]:.2f} s, then median "
        f"{floor_later:.2f} s; the Runs page takes {later / floor_later:.2f}x the floor"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--visits", type=int, default=4)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="runs-speed-"))
    os.environ["ML_STUDIO_OUTPUTS"] = str(work / "ml_outputs")
    os.environ.update(engine_environment(load_settings()))  # Ultralytics offline, its settings kept in work/
    try:
        results_speed(work, options.epochs)
        page_speed(work, options.runs, options.visits)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
