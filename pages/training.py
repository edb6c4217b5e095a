"""Training: start a YOLOv8, YOLO11 or YOLO26 training, follow the queue live, stop or cancel, and watch a run's charts.

Trainings run in detached worker processes; this page only writes the request and reads the job
database and the run folders, so closing the browser never stops a training.
"""

import json
from pathlib import Path

import psutil
import streamlit as st

from mlcore.charts.training import training_history
from mlcore.core.errors import SubmitError
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.core.spec import MAX_IMGSZ, STRIDE, SpecError
from mlcore.datasets.validation.saved_reports import latest_verdict
from mlcore.devices.leases import Lease
from mlcore.engine.architectures import PICK_HINT, architecture_table, family_label
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.progress import describe, duration, log_tail, read_progress
from mlcore.jobs.store import Job, JobState
from mlcore.registry.references import registered_weights
from mlcore.runs.results import MAP50, MAP50_95, best_epoch
from mlcore.runs.store import RunSummary, continuable, epoch_seconds, list_runs, seed_weights
from mlcore.training.estimate import TIMED_BATCHES, time_a_few_batches
from mlcore.training.jobs import busy_folders, latest_training, training_queue
from mlcore.training.spec import (
    ARCHITECTURES,
    AUTO_BATCH,
    BACKBONE_LAYERS,
    CONTINUING_MODES,
    OPTIMIZERS,
    TrainSpec,
    parse_advanced,
)
from mlcore.training.submit import free_experiment_name, start
from ui.augmentation import augmentation_fields
from ui.auth import current_user
from ui.base_weights import base_weights_panel
from ui.cache import gpu_inventory, results
from ui.jobs import advance_queue, job_row
from ui.page_frame import dataset_select, datasets_to_pick, page_start

REFRESH_S = 2.0
RECENT_FINISHED = 8
MODES = {"full": "From scratch", "transfer": "Transfer", "resume": "Resume", "extend": "Extend"}
MODE_HELP = {
    "full": "A new model from the architecture's definition, with random weights.",
    "transfer": "Start from trained weights (a run's best.pt, or a .pt in a trusted model folder).",
    "resume": "Continue an interrupted run from its last completed epoch, in the same folder.",
    "extend": "Train more epochs on a finished or stopped run; its history continues in the same folder.",
}


def pick_dataset(settings: Settings) -> tuple[str, bool]:
    """The chosen dataset and whether it may be used (errors block; warnings ask for confirmation)."""
    if not datasets_to_pick(settings):
        st.info(
            "No dataset found under the allowed folders. Make the demo dataset with "
            "`python -m mlcore demo-data`, or add your folder to ML_STUDIO_DATASET_ROOTS.",
            icon=":material/folder_off:",
        )
        return "", False
    dataset = dataset_select(settings, "train.dataset")
    verdict, sentence = latest_verdict(settings, dataset)
    if verdict == "not_ready":
        st.error(f"{sentence} Fix the errors on the Dataset validation page first.", icon=":material/error:")
        return dataset, False
    if verdict == "ready_with_warnings":
        st.warning(sentence, icon=":material/warning:")
        confirmed = st.checkbox("I have looked at the warnings; train anyway", key="train.warnings_ok")
        return dataset, confirmed
    (st.success if verdict else st.info)(sentence, icon=":material/check_circle:" if verdict else ":material/info:")
    return dataset, True


def pick_device() -> str:
    inventory = gpu_inventory()
    options = ["auto", "cpu"]
    labels = {"auto": "auto (the free GPU with the most memory, else CPU)", "cpu": "CPU"}
    for gpu in inventory.gpus:
        free_gb = ((gpu.memory_total_mb or 0) - (gpu.memory_used_mb or 0)) / 1024
        labels[str(gpu.index)] = f"GPU {gpu.index} · {gpu.name} · {free_gb:.1f} GiB free"
        options.append(str(gpu.index))
    if len(inventory.gpus) > 1:
        every = ",".join(str(g.index) for g in inventory.gpus)
        labels[every] = f"all {len(inventory.gpus)} GPUs (multi-GPU)"
        options.append(every)
    device = st.selectbox("Device", options, key="train.device", format_func=labels.get)
    if not inventory.available:
        st.caption("No GPU on this machine: trainings run on the CPU, one at a time, and take much longer.")
    return device


def advanced_fields() -> dict:
    with st.expander("Advanced", icon=":material/tune:"):
        c1, c2, c3 = st.columns(3)
        optimizer = c1.selectbox("Optimizer", OPTIMIZERS, key="train.optimizer")
        set_lr = c2.checkbox("Set the learning rate", key="train.set_lr", help="Used with an explicit optimizer.")
        lr = c2.number_input(
            "Learning rate (lr0)", 0.00001, 0.99, 0.01, format="%.5f", key="train.lr", disabled=not set_lr
        )
        patience = c3.number_input(
            "Patience (epochs without improvement)", 0, 10_000, TrainSpec.patience, key="train.patience"
        )
        workers = c1.number_input("Data loader workers", 0, 64, TrainSpec.workers, key="train.workers")
        cache = c2.selectbox("Cache images", [False, "ram", "disk"], key="train.cache")
        seed = c3.number_input("Seed", 0, 2**31 - 1, TrainSpec.seed, key="train.seed")
        extra = st.text_area(
            "Other Ultralytics train arguments (YAML)",
            key="train.extra",
            placeholder="mosaic: 0.5\nfliplr: 0.0",
            help="Checked against Ultralytics' own list of train arguments.",
        )
    advanced = parse_advanced(extra)
    return {
        "optimizer": optimizer,
        "learning_rate": float(lr) if set_lr else None,
        "patience": int(patience),
        "workers": int(workers),
        "cache": cache,
        "seed": int(seed),
        "advanced": advanced,
    }


def use_free_name(name: str) -> None:
    st.session_state["train.experiment"] = name


def new_training(settings: Settings, runs: list[RunSummary], active_dirs: set[str]) -> None:
    st.subheader("New training")
    if st.session_state.pop("train.started", False):
        st.session_state["train.experiment"] = ""  # the name is taken now; the next training gets its own
    mode = st.segmented_control(
        "Mode", list(MODES), default="full", required=True, format_func=MODES.get, key="train.mode"
    )
    st.caption(MODE_HELP[mode])
    if mode in CONTINUING_MODES:
        continue_run(settings, mode, runs, active_dirs)
        return
    fields: dict = {"mode": mode}
    dataset, dataset_ok = pick_dataset(settings)
    fields["dataset_path"] = dataset
    if mode == "full":
        fields["model_architecture"] = st.selectbox(
            "Architecture",
            ARCHITECTURES,
            key="train.arch",
            format_func=lambda a: f"{a} ({family_label(a)})",
            help=PICK_HINT,
        )
        with st.expander("Compare the architectures (published COCO figures)", icon=":material/table_chart:"):
            st.caption(PICK_HINT)
            st.dataframe(architecture_table(), hide_index=True)
    else:
        registered = {c.path: c.label for c in registered_weights(settings)}
        weights = [*registered, *seed_weights(settings)]  # fine-tune the production version, or any run
        if not weights:
            folders = ", ".join(f"`{r}`" for r in settings.model_roots)
            st.info(
                "No pretrained weights on this machine: the studio works offline and ships none. Two ways to "
                "start a transfer: bring weights below (an upload, a `.pt` on the server, or the weights mirror), "
                f"which go into {folders}; or finish a training here and start from it (or from its registered "
                "version).",
                icon=":material/model_training:",
            )
            base_weights_panel(settings)
            return
        fields["base_model_path"] = str(
            st.selectbox(
                "Start from",
                weights,
                key="train.base",
                format_func=lambda w: registered.get(w) or str(w.relative_to(w.parents[2])),
            )
        )
        with st.expander("Add pretrained weights", icon=":material/add_circle:"):
            base_weights_panel(settings)
        if st.checkbox(f"Freeze the backbone (the first {BACKBONE_LAYERS} layers)", key="train.freeze"):
            fields["freeze"] = BACKBONE_LAYERS
    c1, c2, c3, c4 = st.columns(4)
    fields["epochs"] = int(c1.number_input("Epochs", 1, 10_000, TrainSpec.epochs, key="train.epochs"))
    auto_batch = c2.checkbox("Automatic batch (one GPU)", key="train.auto_batch")
    batch = c2.number_input("Batch size", 1, 1024, TrainSpec.batch_size, key="train.batch", disabled=auto_batch)
    fields["batch_size"] = AUTO_BATCH if auto_batch else int(batch)
    size = c3.number_input("Image size", STRIDE, MAX_IMGSZ, TrainSpec.imgsz, step=STRIDE, key="train.imgsz")
    fields["imgsz"] = int(size)
    with c4:
        fields["device"] = pick_device()
    c1, c2 = st.columns(2)
    fields["project"] = c1.text_input("Project", TrainSpec.project, key="train.project").strip()
    fields["experiment"] = c2.text_input(
        "Experiment", key="train.experiment", placeholder="empty = a dated name", help="Letters, digits, _ - ."
    ).strip()
    problems: list[str] = []
    fields["augmentation"] = augmentation_fields(settings, dataset)  # drawn whatever the other arguments say
    try:
        fields.update(advanced_fields())
        spec = TrainSpec.from_dict(fields)
    except SpecError as exc:
        spec, problems = None, [str(exc)]
    if spec is not None:
        for warning in spec.warnings():
            st.warning(warning, icon=":material/info:")
        if spec.experiment and free_experiment_name(spec.project, spec.experiment, settings) != spec.experiment:
            free = free_experiment_name(spec.project, spec.experiment, settings)
            problems.append(f"Experiment '{spec.experiment}' already exists in project '{spec.project}'.")
            st.button(f"Use '{free}'", on_click=use_free_name, args=(free,), key="train.free_name")
        time_estimate(spec, runs, settings)
    for problem in problems:
        st.error(problem, icon=":material/error:")
    if st.button(
        "Start training",
        type="primary",
        icon=":material/play_arrow:",
        key="train.start",
        disabled=spec is None or bool(problems) or not dataset_ok,
    ):
        with st.spinner("Checking the dataset and queueing the training…"):
            try:
                job = start(spec, settings, owner=current_user())
            except SubmitError as exc:
                st.error(str(exc), icon=":material/error:")
                return
        st.session_state["train.view"] = job.run_dir
        st.session_state["train.started"] = True
        st.toast(f"Training {Path(job.run_dir).name} is {job.state.value}.", icon=":material/rocket_launch:")
        st.rerun()


def continue_run(settings: Settings, mode: str, runs: list[RunSummary], active_dirs: set[str]) -> None:
    """Resume an interrupted run, or extend a finished or stopped one."""
    candidates = continuable(runs, mode, active_dirs)
    if not candidates:
        st.info(
            "No run can be resumed: a run is resumable when it was interrupted before its last epoch."
            if mode == "resume"
            else "No run to extend yet: finish or stop a training first.",
            icon=":material/history:",
        )
        return
    run = st.selectbox(
        "Run",
        candidates,
        key=f"train.{mode}_run",
        format_func=lambda r: f"{r.name}  ·  {r.epochs_done}/{r.epochs_total} epochs",
    )
    more = 0
    if mode == "extend":
        more = int(st.number_input("More epochs", 1, 10_000, 10, key="train.more"))
        st.caption(
            f"Continues from epoch {run.epochs_done} to {run.epochs_done + more} with the same optimizer state; "
            "best.pt changes only if a new epoch is better."
        )
    if st.button(
        "Resume training" if mode == "resume" else f"Train {more} more epochs",
        type="primary",
        icon=":material/play_arrow:",
        key="train.continue",
    ):
        with st.spinner("Checking the checkpoint…"):
            try:
                spec = TrainSpec(mode=mode, resume_from=run.name, epochs=more or 1)  # resume: the run's own epochs
                job = start(spec, settings, owner=current_user())
            except (SpecError, SubmitError) as exc:
                st.error(str(exc), icon=":material/error:")
                return
        st.session_state["train.view"] = job.run_dir
        st.toast(f"{run.name} is {job.state.value}.", icon=":material/rocket_launch:")


def time_estimate(spec: TrainSpec, runs: list[RunSummary], settings: Settings) -> None:
    """From earlier runs of the architecture at this size; for a first one, from a few batches timed on demand."""
    estimate = epoch_seconds(runs, spec.model_architecture, spec.imgsz)
    if estimate:
        per_epoch, count = estimate
        st.caption(
            f":material/timer: About {duration(per_epoch)} per epoch, {duration(per_epoch * spec.epochs)} in "
            f"all (from {count} earlier run(s) of {spec.model_architecture} at {spec.imgsz} px here)."
        )
        return
    key = json.dumps(
        [
            spec.dataset_path,
            spec.mode,
            spec.model_architecture,
            spec.base_model_path,
            spec.imgsz,
            spec.batch_size,
            spec.device,
            spec.workers,
            spec.cache,
        ]
    )
    timed = st.session_state.setdefault("train.timings", {}).get(key)
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    if timed is not None:
        sentence = timed.sentence(spec.epochs)
        c1.caption(f":material/timer: {sentence[0].upper()}{sentence[1:]}.")
    else:
        c1.caption(
            f":material/timer: No earlier run of {spec.model_architecture} at {spec.imgsz} px here to estimate "
            "from: time a few batches (about a minute on a CPU)."
        )
    if c2.button("Time a few batches", icon=":material/timer:", key="train.time"):
        with st.spinner(f"Timing {TIMED_BATCHES} batches of {spec.model_architecture} at {spec.imgsz} px…"):
            try:
                timing = time_a_few_batches(spec, settings)
            except SubmitError as exc:
                st.warning(str(exc), icon=":material/timer_off:")
                return
        st.session_state["train.timings"][key] = timing
        st.rerun()


@st.fragment(run_every=REFRESH_S)
def jobs_section(settings: Settings) -> None:
    st.subheader("Jobs")
    advance_queue(settings)
    queue = training_queue(settings, recent=RECENT_FINISHED)
    if not queue.submitted:
        st.info("No training yet: start one above, and it appears here with its progress.", icon=":material/work:")
        return
    if not queue.open:
        st.caption("Nothing running or queued.")
    for job in queue.open:
        job_row(job, settings, queue.positions.get(job.id))
    if queue.ended:
        st.caption("Recently finished")
        st.dataframe(queue.ended, hide_index=True)


def run_view(settings: Settings, run_dir: Path, started_live: bool) -> None:
    """One run: progress, headline numbers, the live charts, the device and the log.

    Refreshed every few seconds while the job is open; once it ends, one whole-page rerun turns the
    refresh off."""
    latest = latest_training(settings, run_dir)
    job, live = latest.job, latest.live
    if job is not None:
        st.caption(latest.audit)
    folder = RunFolder(run_dir)
    frame = results(folder.results_csv)
    if job is not None:
        progress = read_progress(run_dir)
        if live:
            st.progress(float(progress.get("percent") or 0) / 100, text=describe(job, progress))
        elif job.state is JobState.FAILED:
            st.error(f"Failed: {job.error}", icon=":material/error:")
        elif job.state is JobState.CANCELLED and frame.empty:
            st.warning(
                "Cancelled before its first epoch ended: there is nothing to resume. Start it again.",
                icon=":material/cancel:",
            )
        elif job.state is JobState.CANCELLED:
            st.warning(
                f"Cancelled after epoch {len(frame)}: Resume (above) continues from there.", icon=":material/cancel:"
            )
    best = best_epoch(frame)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Epochs done", len(frame))
    if best is not None:
        row = frame[frame["epoch"] == best].iloc[0]
        c2.metric("Best mAP50-95", f"{row[MAP50_95]:.3f}", f"epoch {best}", delta_color="off")
        c3.metric("mAP50 at best", f"{row[MAP50]:.3f}")
    if "time" in frame and len(frame):
        c4.metric("Training time", duration(float(frame["time"].iloc[-1])))
    if frame.empty:
        st.info(
            "The charts appear when the first epoch ends." if live else "This run has no completed epoch.",
            icon=":material/show_chart:",
        )
    else:
        smoothing = st.slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key="train.smoothing")
        st.plotly_chart(training_history(frame, smoothing), key=f"history.{run_dir}", config={"displaylogo": False})
    if live and job is not None:
        device_use(job, read_progress(run_dir))
    with st.expander("Log (last lines)", expanded=job is not None and job.state is JobState.FAILED):
        st.code(log_tail(str(run_dir), 40, kind=JobKind.TRAINING), language=None)
    if started_live and not live:
        st.rerun()


def device_use(job: Job, progress: dict) -> None:
    lease = Lease.parse(job.device)
    if not lease.is_cpu:
        for gpu in gpu_inventory().gpus:
            if gpu.index in lease.gpus:
                used = (gpu.memory_used_mb or 0) / 1024
                st.caption(
                    f":material/memory: GPU {gpu.index}: {gpu.utilization_pct or 0:.0f}% busy, "
                    f"{used:.1f} of {(gpu.memory_total_mb or 0) / 1024:.1f} GiB, {gpu.temperature_c or 0:.0f} °C"
                )
    else:
        st.caption(f":material/memory: CPU {psutil.cpu_percent():.0f}% busy across {psutil.cpu_count()} cores")
    if progress.get("device_memory_gb"):
        st.caption(f"The training holds {progress['device_memory_gb']:.1f} GiB of memory on its device.")


def run_section(settings: Settings, runs: list[RunSummary]) -> None:
    st.subheader("Run")
    if not runs:
        st.info("Runs appear here once a training has started.", icon=":material/insights:")
        return
    paths_ = [str(r.path) for r in runs]
    wanted = st.session_state.get("train.view")
    if wanted in paths_ and st.session_state.get("train.run") != wanted:
        st.session_state["train.run"] = wanted
        st.session_state.pop("train.view", None)
    chosen = st.selectbox(
        "Run", paths_, key="train.run", format_func=lambda p: "/".join(Path(p).parts[-2:]), label_visibility="collapsed"
    )
    live = latest_training(settings, chosen).live
    st.fragment(run_view, run_every=REFRESH_S if live else None)(settings, Path(chosen), live)


current_settings = page_start(
    "Training",
    "Start YOLOv8 trainings, follow them live, stop or cancel them. They run in their own processes: "
    "close the browser and come back later, they go on.",
)

all_runs = list_runs(current_settings)
active = busy_folders(current_settings)
with st.container(border=True):
    new_training(current_settings, all_runs, active)
jobs_section(current_settings)
run_section(current_settings, list_runs(current_settings))
