"""`python -m mlcore track MODEL SOURCE`: objects tracked through a video, a folder of frames or a stream, counted
on lines and in zones (a job: queued; --wait follows it). `python -m mlcore recount JOB` counts a finished job's
tracks on new lines and zones without running the model again.

    python -m mlcore track runs/logos/v1 /data/cam1.mp4 --tracker bytetrack --set track_buffer=60 \
        --line gate=0,300,640,300:in --zone dock=100,100,500,100,500,400 --every 1 --wait --json
    python -m mlcore recount JOB_ID --line 0,200,640,200 --json

A line is [NAME=]x1,y1,x2,y2[:in|out|both] in the video's pixels; its "in" is the crossing from its left to its
right, looking from its first point to its second. A zone is [NAME=]x,y,x,y,x,y,... (three points or more).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, fail, here, named_model, outcome
from mlcore.core.settings import Settings

LINE_HELP = "[NAME=]x1,y1,x2,y2[:in|out|both] in pixels (repeat for more lines); in = left to right, first to second"
ZONE_HELP = "[NAME=]x,y,x,y,x,y,... in pixels, three points or more (repeat for more zones)"


def line_arg(text: str) -> dict[str, Any]:
    name, _, rest = text.rpartition("=")
    points, _, direction = rest.partition(":")
    return {"points": points, "name": name, "direction": direction or "both"}


def zone_arg(text: str) -> dict[str, Any]:
    name, _, points = text.rpartition("=")
    return {"points": points, "name": name}


def _setting(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r}; give KEY=VALUE, e.g. track_buffer=60")
    return key.strip(), yaml.safe_load(value) if value.strip() else value


def add_track_parsers(sub: Any) -> None:
    p = sub.add_parser("track", help="track objects through a video, frames or a stream; count them on lines and zones")
    p.add_argument("model", metavar="MODEL", nargs="?", default="", help=MODEL_HELP)
    p.add_argument(
        "source", metavar="SOURCE", nargs="?", default="", help="a video file, a folder of frames, or a stream URL"
    )
    p.add_argument("--tracker", default="", help="NAME (default: Ultralytics' own, TrackTrack) or a tracker YAML file")
    p.add_argument("--list-trackers", action="store_true", help="list the trackers and their settings, then exit")
    p.add_argument("--set", dest="settings", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                   help="change one of the tracker's settings, e.g. --set track_buffer=60 (repeatable)")  # fmt: skip
    p.add_argument("--line", dest="lines", type=line_arg, action="append", default=[], help=LINE_HELP)
    p.add_argument("--zone", dest="zones", type=zone_arg, action="append", default=[], help=ZONE_HELP)
    p.add_argument("--every", type=int, default=1, help="track on every N-th frame (above 1 weakens tracking)")
    p.add_argument("--conf", type=float, default=None, help="confidence threshold (default: the profile's, else 0.25)")
    p.add_argument("--iou", type=float, default=None, help="NMS IoU (default: the profile's, else 0.7)")
    p.add_argument("--profile", default="default", help="default (the model's saved one), none, or a profile.json")
    p.add_argument("--fps", type=float, default=0.0, help="the frames' rate (default: the video's; a folder's 25)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (default: all)")
    p.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    p.add_argument("--imgsz", type=int, default=0, help="default: the size the model was trained at")
    p.add_argument("--device", default="auto", help="auto, cpu or a GPU index")
    p.add_argument("--wait", action="store_true", help="follow the job to its end")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.set_defaults(func=cmd_track)

    r = sub.add_parser("recount", help="count a finished tracking job's tracks on new lines and zones")
    r.add_argument("job", metavar="JOB", help="a tracking job's id or its folder")
    r.add_argument("--line", dest="lines", type=line_arg, action="append", default=[], help=LINE_HELP)
    r.add_argument("--zone", dest="zones", type=zone_arg, action="append", default=[], help=ZONE_HELP)
    r.add_argument("--json", action="store_true", help="one JSON document on stdout")
    r.set_defaults(func=cmd_recount)


def _list_trackers() -> int:
    from mlcore.video.trackers import tracker_defaults, tracker_names

    for k, name in enumerate(tracker_names()):
        values = tracker_defaults(name)
        print(f"{name}{'  (default)' if k == 0 else ''}")
        print("  " + ", ".join(f"{key}={value}" for key, value in values.items() if key != "tracker_type"))
    return 0


def cmd_track(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.spec import SpecError
    from mlcore.video.sources import is_stream
    from mlcore.video.spec import TrackSpec
    from mlcore.video.store import tracking_result
    from mlcore.video.submit import submit_tracking

    if args.list_trackers:
        return _list_trackers()
    if not args.model or not args.source:
        return fail("give a MODEL and a SOURCE (a video file, a folder of frames or a stream URL).", EXIT_USAGE)
    try:
        spec = TrackSpec(
            model_path=named_model(args.model, settings),
            source=args.source if is_stream(args.source) else str(here(args.source)),
            tracker=str(here(args.tracker)) if args.tracker.endswith((".yaml", ".yml")) else args.tracker,
            tracker_settings=dict(args.settings),
            confidence_threshold=args.conf,
            nms_iou=args.iou,
            profile=args.profile,
            every_nth_frame=args.every,
            lines=args.lines,
            zones=args.zones,
            fps=args.fps,
            max_frames=args.max_frames,
            save_video=not args.no_video,
            imgsz=args.imgsz,
            device=args.device,
        )
        job = submit_tracking(spec, settings)
    except (SpecError, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    for warning in job.spec.get("warnings") or []:
        print(f"mlcore: warning: {warning}", file=sys.stderr)
    result = outcome(job, args.wait, settings, tracking_result, OSError)
    if isinstance(result, int):
        return result
    summary = result["summary"]
    if args.json:
        print(json.dumps({"job_id": job.id, "output_dir": result["output_dir"], **summary, "files": result["files"]}))
        return 0
    _print_counts(summary)
    print(f"{summary['frames']} frames at {summary['fps']} frames/s; output: {result['output_dir']}")
    return 0


def _print_counts(document: dict[str, Any]) -> None:
    if "tracks" in document:
        print(f"{document['track_count']} tracks")
        for name, row in document["tracks"].items():
            print(f"  {name:<20} {row['tracks']:>4} tracks, {row['mean_duration_s']:.1f} s on average")
    for line in document.get("lines", []):
        classes = ", ".join(f"{c} {v['in']} in/{v['out']} out" for c, v in line["by_class"].items())
        print(f"line {line['line']}: {line['in']} in, {line['out']} out" + (f" ({classes})" if classes else ""))
    for zone in document.get("zones", []):
        print(
            f"zone {zone['zone']}: {zone['entries']} entries, {zone['exits']} exits, at most {zone['max_inside']} "
            "inside at once"
        )


def cmd_recount(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import JobNotFound, SubmitError
    from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
    from mlcore.core.spec import SpecError
    from mlcore.jobs.kinds import JobKind
    from mlcore.jobs.store import open_store
    from mlcore.video.store import recount

    if not args.lines and not args.zones:
        return fail("give at least one --line or --zone to count on.", EXIT_USAGE)
    try:
        if Path(args.job).expanduser().is_dir():
            folder = resolve_user_path(str(here(args.job)), (settings.outputs_root,), what="tracking folder")
        else:
            job = open_store(settings).get(args.job)
            if job.kind != JobKind.TRACKING:
                return fail(f"{args.job} is a {job.kind} job; give a tracking job's id.", EXIT_USAGE)
            folder = Path(job.run_dir)
        document = recount(folder, args.lines, args.zones)
    except JobNotFound:
        return fail(f"no job {args.job}; give a tracking job's id (python -m mlcore jobs list) or its folder.", 2)
    except (SpecError, SubmitError, PathNotAllowed) as exc:
        return fail(str(exc), EXIT_USAGE)
    if args.json:
        print(json.dumps(document))
        return 0
    _print_counts(document["counts"])
    print(f"{len(document['events'])} events")
    return 0
