"""Tracking and counting over HTTP, as `python -m mlcore track` and `recount`.

The live mode is a polling endpoint, GET /tracks/{id}/live, not server-sent events: the job writes its counts about
once a second (live.json), so a poll a second sees every change; a plain GET passes the API's token check, proxies
and the page's own refresh as every other route does, and holds no worker thread of the server open per watcher.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from mlcore.api.bodies import RecountRequest, TrackRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.errors import ApiError
from mlcore.api.job_report import tracking_status
from mlcore.api.routes.jobs import add_job_routes
from mlcore.jobs.kinds import JobKind
from mlcore.registry.references import model_path as named_model
from mlcore.video.sources import is_stream
from mlcore.video.spec import TrackSpec
from mlcore.video.store import FILES, live_counts, recount, tracking_result
from mlcore.video.submit import submit_tracking
from mlcore.video.trackers import tracker_defaults, tracker_names
from mlcore.video.uploads import save_video

MEDIA = {
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".mp4": "video/mp4",
    ".yaml": "text/yaml",
    ".json": "application/json",
}


def router(ctx: ApiContext) -> APIRouter:
    routes = APIRouter()
    settings = ctx.settings

    @routes.get("/trackers", summary="The trackers one may name (the default first), with their settings")
    def trackers() -> list[dict[str, Any]]:
        return [
            {"name": name, "default": k == 0, "settings": tracker_defaults(name)}
            for k, name in enumerate(tracker_names())
        ]

    @routes.post("/tracks", status_code=202, summary="Queue a tracking job over a video, frames or a stream")
    def start_tracking(body: TrackRequest) -> dict[str, Any]:
        fields = body.model_dump()
        if not is_stream(body.source):
            fields["source"] = dataset_path(body.source, settings)
        if body.model_path.strip():
            fields["model_path"] = named_model(body.model_path, settings)
        job = submit_tracking(TrackSpec.from_dict(fields), settings, owner=ctx.actor)
        return tracking_status(job, ctx.store)

    @routes.post("/tracks/videos", status_code=201, summary="Upload a video to track; answers its path for /tracks")
    def upload_video(file: UploadFile = File(description="An MP4, WebM, AVI, MKV or MOV file.")) -> dict[str, Any]:  # noqa: B008
        path = save_video(file.file, file.filename or "video.mp4", settings)
        return {"source": str(path), "bytes": path.stat().st_size}

    @routes.get("/tracks/{track_id}/live", summary="Counts so far of a running tracking job (poll it each second)")
    def live(track_id: str) -> dict[str, Any]:
        job = ctx.job(track_id, JobKind.TRACKING)
        folder = Path(job.run_dir)
        if job.state.is_final():
            result = tracking_result(folder)
            summary = result["summary"] if result else {}
            return {
                "track_id": job.id,
                "state": job.state.value,
                "final": True,
                **{k: summary.get(k) for k in ("frames", "fps", "track_count", "lines", "zones")},
            }
        return {"track_id": job.id, "state": job.state.value, "final": False, **(live_counts(folder) or {})}

    @routes.post("/tracks/{track_id}/recount", summary="Count a finished job's tracks on new lines and zones")
    def recount_tracks(track_id: str, body: RecountRequest) -> dict[str, Any]:
        job = ctx.job(track_id, JobKind.TRACKING)
        if not body.lines and not body.zones:
            raise ApiError(422, "bad_field", "give at least one line or zone to count on.")
        return {"track_id": job.id, **recount(Path(job.run_dir), body.lines, body.zones)}

    @routes.get(
        "/tracks/{track_id}/files/{name}", summary="One of a tracking job's files (the video plays in browsers)"
    )
    def track_file(track_id: str, name: str) -> Any:
        job = ctx.job(track_id, JobKind.TRACKING)
        if name not in FILES.values():
            raise ApiError(404, "unknown_file", f"no file {name!r}; a tracking job has {', '.join(FILES.values())}.")
        path = Path(job.run_dir) / name
        if not path.is_file():
            return JSONResponse({"detail": f"{name} is not written (yet)."}, status_code=404)
        return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"), filename=name)

    add_job_routes(
        routes,
        ctx,
        JobKind.TRACKING,
        tracking_status,
        "track_id",
        listing=("tracks", "Every tracking job"),
        read=("track", "One tracking job: progress and counts so far, then its summary and files"),
        stop=("stop_tracking", "Stop a tracking job, keeping its tracks, counts and a playable video"),
        cancel=("cancel_tracking", "Cancel a tracking job"),
    )
    return routes
