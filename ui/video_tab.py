"""The Predict page's Video tab: a video (uploaded, on the server, the demo, or a stream) tracked by a model, with
lines and zones drawn on its first frame, run as a tracking job; then the annotated video, the counts over time,
the tracks table and a track's thumbnails."""

from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
import yaml

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.core.spec import SpecError
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.store import jobs_of
from mlcore.video.counting import DIRECTIONS, CountingError, lines_from, zones_from
from mlcore.video.demo_video import demo_video_for
from mlcore.video.sources import SourceError, open_source
from mlcore.video.spec import STRIDE_WARNING, TrackSpec
from mlcore.video.store import (
    counts_over_time,
    list_tracking_runs,
    live_counts,
    recount,
    track_rows,
    track_thumbnails,
    tracking_result,
)
from mlcore.video.submit import submit_tracking
from mlcore.video.trackers import tracker_defaults, tracker_names
from mlcore.video.uploads import save_video
from ui.auth import current_user
from ui.jobs import open_jobs_section

REFRESH_S = 2.0
SHAPE_COLUMNS = ("kind", "name", "points", "direction")
GRID_STEP = 16  # pixels between the invisible points that let plotly's box and lasso tools select on the frame
SOURCES = {
    "demo": "The demo video",
    "upload": "Upload a video",
    "server": "A video or a folder of frames on the server",
    "stream": "A stream (RTSP or HTTP)",
}


@st.cache_data(ttl=60, show_spinner=False)
def _first_frame(_settings: Settings, source: str, outputs: str) -> tuple[dict[str, Any], np.ndarray]:
    opened = open_source(source, _settings)
    return opened.describe(), cv2.cvtColor(opened.first_frame(), cv2.COLOR_BGR2RGB)


def _source(settings: Settings) -> str | None:
    how = st.radio("Video", list(SOURCES), format_func=SOURCES.__getitem__, horizontal=True, key="video.how")
    if how == "demo":
        with st.spinner("Making the demo video (once)…"):
            return str(demo_video_for(settings))
    if how == "upload":
        sent = st.file_uploader("Video", type=["mp4", "webm", "avi", "mov", "mkv", "m4v"], key="video.upload")
        if sent is None:
            return None
        saved = st.session_state.get("video.saved", {})
        if sent.file_id not in saved:
            try:
                saved[sent.file_id] = str(save_video(sent, sent.name, settings))
            except SourceError as exc:
                st.error(str(exc), icon=":material/error:")
                return None
            st.session_state["video.saved"] = saved
        return saved[sent.file_id]
    if how == "server":
        typed = st.text_input("Path", key="video.path", placeholder="/data/cameras/gate.mp4 or /data/frames/")
        return typed.strip() or None
    url = st.text_input("Stream URL", key="video.url", placeholder="rtsp://camera.lan:8554/stream1")
    st.caption(
        "Only hosts an administrator allowed (ML_STUDIO_STREAM_HOSTS) can be opened; the camera's login is theirs "
        "to give there, never in the URL. A stream runs until you press Stop, or for the frames you set."
    )
    return url.strip() or None


def _shape_errors(table: pd.DataFrame) -> tuple[list[Any], list[Any], list[str]]:
    """(lines, zones, problems) of the shapes table: each row checked on its own."""
    lines, zones, problems = [], [], []
    for k, row in enumerate(table.to_dict("records")):
        points = str(row.get("points") or "").strip()
        if not points:
            continue
        name = str(row.get("name") or "").strip() or f"{row.get('kind') or 'shape'} {k + 1}"
        try:
            if row.get("kind") == "zone":
                zones_from([{"points": points, "name": name}])
                zones.append({"points": points, "name": name})
            else:
                direction = str(row.get("direction") or "both")
                lines_from([{"points": points, "name": name, "direction": direction}])
                lines.append({"points": points, "name": name, "direction": direction})
        except CountingError as exc:
            problems.append(str(exc))
    return lines, zones, problems


def _drawn_shape(selection: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """A line or a zone from plotly's box or lasso selection on the frame."""
    if selection.get("lasso"):
        xs, ys = selection["lasso"][0]["x"], selection["lasso"][0]["y"]
        if kind == "line":
            points = [xs[0], ys[0], xs[-1], ys[-1]]
        else:
            polygon = np.array(list(zip(xs, ys, strict=True)), np.float32).reshape(-1, 1, 2)
            simple = cv2.approxPolyDP(polygon, 0.01 * cv2.arcLength(polygon, True), True).reshape(-1, 2)
            points = [v for p in (simple if len(simple) >= 3 else polygon.reshape(-1, 2)) for v in p]
    elif selection.get("box"):
        (x0, x1), (y0, y1) = sorted(selection["box"][0]["x"]), sorted(selection["box"][0]["y"])
        if kind == "line":  # along the box's long side, through its middle
            points = (
                [x0, (y0 + y1) / 2, x1, (y0 + y1) / 2] if x1 - x0 >= y1 - y0 else [(x0 + x1) / 2, y0, (x0 + x1) / 2, y1]
            )
        else:
            points = [x0, y0, x1, y0, x1, y1, x0, y1]
    else:
        return None
    text = ",".join(f"{max(0.0, float(v)):.0f}" for v in points)
    return {"kind": kind, "name": "", "points": text, "direction": "both" if kind == "line" else None}


def _frame_figure(frame: np.ndarray, lines: list[dict], zones: list[dict]) -> go.Figure:
    h, w = frame.shape[:2]
    figure = px.imshow(frame)
    gx, gy = np.meshgrid(np.arange(0, w, GRID_STEP), np.arange(0, h, GRID_STEP))
    figure.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", marker={"opacity": 0}, hoverinfo="skip"))
    for zone in zones_from(zones):
        xs, ys = zip(*(*zone.points, zone.points[0]), strict=True)
        figure.add_trace(
            go.Scatter(x=xs, y=ys, mode="lines", fill="toself", name=zone.label, line={"color": "#ffd400"})
        )
    for line in lines_from(lines):
        figure.add_annotation(
            x=line.end[0], y=line.end[1], ax=line.start[0], ay=line.start[1], xref="x", yref="y", axref="x", ayref="y",
            showarrow=True, arrowhead=2, arrowwidth=3, arrowcolor="#ffffff", text=line.label,
        )  # fmt: skip
    figure.update_layout(dragmode="lasso", showlegend=False, margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=420)
    figure.update_xaxes(visible=False, range=[0, w])
    figure.update_yaxes(visible=False, range=[h, 0])
    return figure


def _shapes(frame: np.ndarray) -> tuple[list[Any], list[Any]]:
    """The lines and zones: drawn on the first frame or typed in the table; (lines, zones) as requests give them."""
    base = st.session_state.setdefault("video.shapes", [])
    version = st.session_state.setdefault("video.shapes_version", 0)
    left, right = st.columns([3, 2])
    with right:
        kind = st.radio("Draw next", ["line", "zone"], horizontal=True, key="video.draw_kind")
        st.caption(
            "Draw on the frame with the lasso (a line: from where you start to where you end; a zone: its outline) "
            "or the box tool, or type points in pixels. A line's **in** is the crossing from its left to its right, "
            "looking from its first point to its second (the arrow)."
        )
        edited = st.data_editor(
            pd.DataFrame(base, columns=list(SHAPE_COLUMNS)),
            num_rows="dynamic",
            key=f"video.shapes_table.{version}",
            column_config={
                "kind": st.column_config.SelectboxColumn("Kind", options=["line", "zone"], default="line"),
                "name": st.column_config.TextColumn("Name"),
                "points": st.column_config.TextColumn("Points (x,y,…)", help="x1,y1,x2,y2 for a line; 3 points+ zone"),
                "direction": st.column_config.SelectboxColumn("Counts", options=list(DIRECTIONS), default="both"),
            },
            hide_index=True,
            width="stretch",
        )
        lines, zones, problems = _shape_errors(edited)
        for problem in problems:
            st.warning(problem, icon=":material/warning:")
    with left:
        event = st.plotly_chart(
            _frame_figure(frame, lines, zones),
            on_select="rerun",
            selection_mode=("box", "lasso"),
            key=f"video.frame.{version}",
            config={"displaylogo": False},
        )
    drawn = _drawn_shape(dict(event.selection) if event and event.selection else {}, kind)
    if drawn is not None:
        st.session_state["video.shapes"] = [*edited.to_dict("records"), drawn]
        st.session_state["video.shapes_version"] = version + 1
        st.rerun()
    return lines, zones


def _tracker() -> tuple[str, dict[str, Any]]:
    names = tracker_names()
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox(
        "Tracker",
        names,
        key="video.tracker",
        format_func=lambda n: f"{n} (Ultralytics' default)" if n == names[0] else n,
    )
    defaults = tracker_defaults(name)
    changes: dict[str, Any] = {}
    with c2.expander("Tracker settings (Ultralytics' YAML)", icon=":material/tune:"):
        table = pd.DataFrame({"setting": list(defaults), "value": [str(v) for v in defaults.values()]})
        edited = st.data_editor(
            table, disabled=["setting"], hide_index=True, key=f"video.settings.{name}", width="stretch"
        )
        for key, text in zip(edited["setting"], edited["value"], strict=True):
            value = yaml.safe_load(str(text)) if str(text).strip() else text
            if key != "tracker_type" and value != defaults[key]:
                changes[key] = value
        st.caption("Re-identification stays on the detector's own features: no other model is downloaded.")
    return name, changes


def _start(model: Path, settings: Settings, source: str, lines: list, zones: list) -> None:
    tracker, changes = _tracker()
    c1, c2, c3, c4 = st.columns(4)
    use_profile = c1.toggle(
        "Profile thresholds", True, key="video.use_profile", help="The model's deployment profile (else 0.25)"
    )
    conf = None if use_profile else c2.slider("Confidence", 0.01, 0.99, 0.25, 0.01, key="video.conf")
    every = int(c3.number_input("Every N-th frame", 1, 30, 1, key="video.every"))
    limit = int(c4.number_input("Frames at most (0: all)", 0, 10_000_000, 0, key="video.max_frames"))
    if every > 1:
        st.warning(STRIDE_WARNING, icon=":material/speed:")
    if st.button("Track and count", icon=":material/play_arrow:", key="video.start", type="primary"):
        try:
            spec = TrackSpec(
                model_path=str(model), source=source, tracker=tracker, tracker_settings=changes,
                confidence_threshold=conf, every_nth_frame=every, lines=lines, zones=zones, max_frames=limit,
            )  # fmt: skip
            job = submit_tracking(spec, settings, owner=current_user())
        except (SpecError, SubmitError) as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.toast(f"Tracking {job.id} {job.state.value}", icon=":material/play_arrow:")


def _counts_table(document: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for line in document.get("lines", []):
        for cls, v in (line["by_class"] or {"(none)": {"in": 0, "out": 0}}).items():
            rows.append({"where": line["line"], "class": cls, "in / entries": v["in"], "out / exits": v["out"]})
    for zone in document.get("zones", []):
        for cls, v in (zone["by_class"] or {"(none)": {"entries": 0, "exits": 0}}).items():
            rows.append(
                {"where": zone["zone"], "class": cls, "in / entries": v["entries"], "out / exits": v["exits"],
                 "most inside at once": zone["max_inside"]}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _result(folder: Path, settings: Settings, error: str) -> None:
    result = tracking_result(folder)
    if result is None:
        if error:
            st.error(f"The tracking failed: {error}", icon=":material/error:")
        else:
            st.info("Not finished (running, cancelled or interrupted).", icon=":material/hourglass_top:")
        return
    s = result["summary"]
    if s.get("stopped"):
        st.warning(
            "Stopped before the end: the files and the video hold the frames done until then.", icon=":material/pause:"
        )
    cols = st.columns(4)
    cols[0].metric("Frames", s["frames"])
    cols[1].metric("Tracks", s["track_count"])
    cols[2].metric("Frames / s", s.get("fps") or "—")
    cols[3].metric("Tracker", s["tracker"])
    if "video" in result["files"]:
        st.video(result["files"]["video"])
    if s.get("lines") or s.get("zones"):
        st.dataframe(_counts_table(s), hide_index=True, width="stretch")
        over_time = pd.DataFrame(counts_over_time(folder))
        if not over_time.empty:
            chart = px.line(over_time, x="time_s", y="count", color="series", line_shape="hv", markers=True)
            chart.update_layout(height=300, xaxis_title="seconds into the video", yaxis_title="count so far")
            st.plotly_chart(chart, key=f"video.chart.{folder.name}")
    tracks = pd.DataFrame(track_rows(folder))
    if tracks.empty:
        st.info("No track: the model found nothing the tracker kept. Lower the confidence, or check the model on "
                "a frame in the Try on images tab.", icon=":material/visibility_off:")  # fmt: skip
        return
    c1, c2 = st.columns(2)
    classes = c1.multiselect("Classes", sorted(tracks["class"].unique()), key=f"video.classes.{folder.name}")
    longest = float(tracks["seconds"].max())
    least = c2.slider("Seen for at least (s)", 0.0, longest, 0.0, key=f"video.least.{folder.name}")
    shown = tracks[(tracks["seconds"] >= least) & (tracks["class"].isin(classes) if classes else True)]
    picked = st.dataframe(
        shown, hide_index=True, on_select="rerun", selection_mode="single-row", key=f"video.tracks.{folder.name}"
    )
    if picked and picked.selection.rows:
        track = int(shown.iloc[picked.selection.rows[0]]["track"])
        crops = track_thumbnails(folder, track, settings)
        if crops:
            st.image(crops, caption=[f"track {track}"] * len(crops), width=96)
    for key, label in (("tracks_csv", "tracks.csv"), ("mot", "tracks.txt (MOT)"), ("events_csv", "events.csv")):
        if key in result["files"]:
            path = Path(result["files"][key])
            st.download_button(
                label, path.read_bytes(), path.name, key=f"video.dl.{key}.{folder.name}", on_click="ignore"
            )


def _recount(folder: Path, lines: list, zones: list) -> None:
    with st.expander("Count again on the lines and zones above (no model run)", icon=":material/replay:"):
        if not lines and not zones:
            st.caption("Draw or type a line or a zone above first.")
            return
        if st.button("Count again", key=f"video.recount.{folder.name}"):
            try:
                document = recount(folder, lines, zones)
            except (SpecError, SubmitError) as exc:
                st.error(str(exc), icon=":material/error:")
                return
            st.dataframe(_counts_table(document["counts"]), hide_index=True, width="stretch")


def _live(settings: Settings) -> None:
    """The counts so far of the tracking jobs that run (a stream's are the only ones it has until Stop)."""
    for job in jobs_of(settings, kind=JobKind.TRACKING):
        live = None if job.state.is_final() else live_counts(Path(job.run_dir))
        if live:
            st.caption(
                f"{Path(job.run_dir).name}: frame {live['frame']} ({live['time_s']:g} s into the video), "
                f"{live['tracks']} tracks so far, {live['fps']:g} frames/s"
            )
            if live.get("lines") or live.get("zones"):
                st.dataframe(_counts_table(live), hide_index=True, width="stretch")


def video_tab(model: Path, settings: Settings) -> None:
    source = _source(settings)
    lines: list[Any] = []
    zones: list[Any] = []
    if source:
        try:
            facts, frame = _first_frame(settings, source, str(settings.outputs_root))
        except SourceError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            frames = f"{facts['frames']} frames" if facts["frames"] else "a stream"
            st.caption(f"`{facts['source']}` · {facts['size'][0]}x{facts['size'][1]} · {facts['fps']:g} fps · {frames}")
            lines, zones = _shapes(frame)
            _start(model, settings, source, lines, zones)
    else:
        st.info(
            "Pick the demo video, upload one, or name one on the server to draw lines and zones on.",
            icon=":material/movie:",
        )
    tracking_jobs = partial(jobs_of, kind=JobKind.TRACKING)
    jobs = tracking_jobs(settings)
    drawn_open = frozenset(j.id for j in jobs if not j.state.is_final())
    st.fragment(open_jobs_section, run_every=REFRESH_S if drawn_open else None)(
        settings, tracking_jobs, drawn_open, "video."
    )
    runs = list_tracking_runs(settings)
    if not runs:
        st.info("No tracking yet: pick a video above and press Track and count.", icon=":material/timeline:")
        return
    errors = {j.run_dir: j.error or "" for j in jobs if j.error}
    names = {str(f): f"{f.name} · {Path(str(c.get('source'))).name}" for f, c, _ in runs}
    picked = st.selectbox("Tracking results", list(names), format_func=names.__getitem__, key="video.run")
    _result(Path(picked), settings, errors.get(picked, ""))
    _recount(Path(picked), lines, zones)
