"""System status: CPU, memory, disk, GPUs, PyTorch's view of CUDA, jobs, troubleshooting."""

import time

import streamlit as st

from mlcore.charts import system as charts
from mlcore.core.settings import Settings
from mlcore.devices.gpus import GpuInventory, GpuReading, read_gpus
from mlcore.jobs.store import JobState
from mlcore.storage.cache import cache_usage, trim_cache
from mlcore.storage.check import check_locations, location_rows
from mlcore.storage.locations import StorageError
from mlcore.system import troubleshooting
from mlcore.system.cluster import cluster_status
from mlcore.system.status import HostReading, jobs_overview, read_host, status_notices
from ui.auth import current_user
from ui.cache import torch_probe_answer
from ui.jobs import advance_queue
from ui.page_frame import page_start

HISTORY_KEY = "status.history"
HISTORY_SECONDS = 300  # sparklines show the last five minutes
REFRESH = "2s"


def remember(host: HostReading, gpus: GpuInventory) -> list[dict]:
    """Append this reading to the session's history and drop what is older than the window."""
    history = st.session_state.setdefault(HISTORY_KEY, [])
    history.append(
        {
            "t": host.timestamp,
            "cpu": host.cpu_pct,
            "memory": host.memory_pct,
            "gpu_util": {g.index: g.utilization_pct for g in gpus.gpus},
            "gpu_memory": {g.index: g.memory_pct for g in gpus.gpus},
        }
    )
    cutoff = host.timestamp - HISTORY_SECONDS
    st.session_state[HISTORY_KEY] = history = [h for h in history if h["t"] >= cutoff]
    return history


def metric_with_sparkline(label: str, pct: float, detail: str, times: list, values: list) -> None:
    with st.container(border=True):
        st.metric(label, f"{pct:.0f}%")
        st.caption(detail)
        st.plotly_chart(
            charts.sparkline(times, values, colour=charts.level_colour(pct)),
            config={"displayModeBar": False},
            key=f"spark-{label}",
        )


def show_gpu(gpu: GpuReading, history: list[dict]) -> None:
    with st.container(border=True):
        st.markdown(f"**GPU {gpu.index} · {gpu.name}**")
        st.caption(gpu.uuid)
        cols = st.columns(4)
        util = "n/a" if gpu.utilization_pct is None else f"{gpu.utilization_pct:.0f}%"
        mem = (
            "n/a"
            if gpu.memory_pct is None
            else f"{gpu.memory_used_mb / 1024:.1f} / {gpu.memory_total_mb / 1024:.1f} GiB"
        )
        temp = "n/a" if gpu.temperature_c is None else f"{gpu.temperature_c:.0f} °C"
        power = "n/a" if gpu.power_w is None else f"{gpu.power_w:.0f} W"
        if gpu.power_w is not None and gpu.power_limit_w:
            power += f" / {gpu.power_limit_w:.0f} W"
        cols[0].metric("Utilisation", util)
        cols[1].metric("Memory", mem)
        cols[2].metric("Temperature", temp)
        cols[3].metric("Power", power)
        times = [h["t"] for h in history]
        left, right = st.columns(2)
        with left:
            st.caption("Utilisation, last minutes")
            st.plotly_chart(
                charts.sparkline(
                    times,
                    [h["gpu_util"].get(gpu.index) for h in history],
                    colour=charts.level_colour(gpu.utilization_pct),
                ),
                config={"displayModeBar": False},
                key=f"gpu-util-{gpu.index}",
            )
        with right:
            st.caption("Memory, last minutes")
            st.plotly_chart(
                charts.sparkline(
                    times, [h["gpu_memory"].get(gpu.index) for h in history], colour=charts.level_colour(gpu.memory_pct)
                ),
                config={"displayModeBar": False},
                key=f"gpu-mem-{gpu.index}",
            )
        for alert in gpu.alerts():
            st.warning(alert, icon=":material/warning:")
        if gpu.processes:
            st.dataframe(
                [
                    {
                        "PID": p.pid,
                        "Process": p.name,
                        "GPU memory (MiB)": None if p.used_memory_mb is None else round(p.used_memory_mb),
                    }
                    for p in gpu.processes
                ],
                hide_index=True,
            )
        else:
            st.caption("No process is using this GPU.")


@st.fragment(run_every=REFRESH)
def live_figures(settings: Settings) -> None:
    """Host and GPU figures, redrawn every two seconds."""
    host = read_host(settings.outputs_root)
    gpus = read_gpus()
    history = remember(host, gpus)
    times = [h["t"] for h in history]

    for notice in status_notices(host, gpus, None):
        if notice.hint == "gpu_not_found":
            continue  # the GPU section below explains it
        show = st.info if notice.level == "info" else st.warning
        show(notice.message, icon=":material/info:" if notice.level == "info" else ":material/warning:")

    cpu, memory, disk, load = st.columns(4)
    with cpu:
        metric_with_sparkline("CPU", host.cpu_pct, f"{host.cores_logical} cores", times, [h["cpu"] for h in history])
    with memory:
        metric_with_sparkline(
            "Memory",
            host.memory_pct,
            f"{host.memory_used_gb:.1f} of {host.memory_total_gb:.1f} GiB",
            times,
            [h["memory"] for h in history],
        )
    with disk, st.container(border=True):
        st.metric("Disk (outputs)", f"{host.disk_free_gb:.0f} GiB free", help=host.disk_path)
        st.progress(min(1.0, host.disk_pct / 100), text=f"{host.disk_pct:.0f}% of {host.disk_total_gb:.0f} GiB used")
    with load, st.container(border=True):
        one, five, fifteen = host.load_avg
        st.metric("Load (1 min)", f"{one:.2f}", help=f"5 min {five:.2f} · 15 min {fifteen:.2f}")
        st.progress(
            min(1.0, one / host.cores_logical), text=f"{one / host.cores_logical:.0%} of {host.cores_logical} cores"
        )

    with st.expander("CPU per core", expanded=False):
        st.plotly_chart(charts.per_core_bars(host.per_core_pct), config={"displayModeBar": False}, key="per-core")

    st.subheader("GPUs")
    if gpus.available:
        st.caption(f"NVIDIA driver {gpus.driver_version} · CUDA {gpus.cuda_driver_version} · {len(gpus.gpus)} GPU(s)")
        for gpu in gpus.gpus:
            show_gpu(gpu, history)
    else:
        st.info(
            f"**No GPU available.** {gpus.error} Trainings will run on the CPU: fine for the demo dataset "
            "and small experiments, much slower for real ones. See *GPU not found* below.",
            icon=":material/memory:",
        )
    st.caption(f"Updated {time.strftime('%H:%M:%S', time.localtime(host.timestamp))} · every 2 seconds")


def torch_section(settings: Settings) -> None:
    st.subheader("Does PyTorch see CUDA?")
    left, right = st.columns([4, 1])
    with right:
        if st.button("Check again", icon=":material/refresh:", help="Run the PyTorch probe again"):
            torch_probe_answer.clear()
    with left, st.spinner("Asking PyTorch in a separate process…"):
        probe = torch_probe_answer(settings)
    if not probe.ok:
        st.error(f"PyTorch could not be checked: {probe.error}", icon=":material/error:")
        return
    cols = st.columns(4)
    cols[0].metric("PyTorch", probe.torch_version or "?")
    cols[1].metric("Built for CUDA", probe.cuda_build or "none (CPU build)")
    cols[2].metric("Sees CUDA", "yes" if probe.cuda_available else "no")
    cols[3].metric("CUDA devices", probe.device_count)
    if probe.cuda_available:
        st.success(
            "PyTorch can train on: " + ", ".join(f"cuda:{i} {n}" for i, n in enumerate(probe.devices)),
            icon=":material/check_circle:",
        )
    elif probe.is_cpu_only_build:
        st.warning(
            "This PyTorch is a CPU-only build: install the CUDA build to train on a GPU.", icon=":material/warning:"
        )
    else:
        st.info("PyTorch does not see a CUDA device, so trainings run on the CPU.", icon=":material/info:")
    st.caption(f"Checked in {probe.seconds:.1f} s in a process prepared like the training workers.")


@st.fragment(run_every=REFRESH)
def jobs_section(settings: Settings) -> None:
    st.subheader("Jobs")
    advance_queue(settings)
    jobs = jobs_overview(settings.outputs_root)
    if not jobs:
        st.info(
            "No training or evaluation job is running or queued. Jobs you start will be listed here "
            "with their device and progress.",
            icon=":material/work_history:",
        )
        return
    rows = [
        {
            "Job": j["id"],
            "Run": j["run"],
            "State": j["state"] if not j["queue_position"] else f"queued (#{j['queue_position']})",
            "Device": j["device"] or "—",
            "Epoch": f"{j['epoch']}/{j['epochs']}" if j["epoch"] else "—",
            "Progress": (j["percent"] or 0) / 100,
            "ETA": "—" if j["eta_s"] is None else f"{j['eta_s'] / 60:.1f} min",
        }
        for j in jobs
    ]
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "Progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent")
        },
    )


@st.fragment(run_every="5s")
def cluster_section(settings: Settings) -> None:
    """The Ray cluster jobs run on (ML_STUDIO_RAY_ADDRESS): its nodes, their GPUs and what runs on each."""
    report = cluster_status(settings)
    if not report["configured"]:
        st.caption(
            "Jobs run on this machine. To run them on a Ray cluster of several GPU servers, set "
            "ML_STUDIO_RAY_ADDRESS (README, *Scaling out*)."
        )
        return
    st.subheader("Ray cluster")
    if report["ok"]:
        st.success(
            f"New jobs run on the Ray cluster at {report['address']}. {report['message']}", icon=":material/hub:"
        )
    else:
        st.warning(report["message"], icon=":material/cloud_off:")
    nodes = report["nodes"]
    if nodes:
        alive = [n for n in nodes if n["alive"]]
        cols = st.columns(3)
        cols[0].metric("Nodes alive", f"{len(alive)} of {len(nodes)}")
        cols[1].metric("GPUs", sum(n["gpus"] for n in alive))
        cols[2].metric("CPUs", f"{sum(n['cpus'] for n in alive):g}")
        for node in nodes:
            if not node["alive"]:
                st.error(
                    f"Node {node['hostname']} ({node['short_id']}) is dead: "
                    f"{node['state_message'] or 'it left the cluster'}. "
                    "Its jobs failed and can be resumed from the Runs page.",
                    icon=":material/dangerous:",
                )
        st.dataframe(
            [
                {
                    "Node": n["short_id"],
                    "Host": n["hostname"],
                    "Address": n["ip"],
                    "Role": "head" if n["is_head"] else "worker",
                    "State": "alive" if n["alive"] else "dead",
                    "CPUs": n["cpus"],
                    "GPUs": n["gpus"],
                    "GPU memory": ", ".join(
                        f"{(g['memory_used_mb'] or 0) / 1024:.1f}/{(g['memory_total_mb'] or 0) / 1024:.1f} GiB"
                        for g in n["gpu_readings"]
                    )
                    or "not reported",
                    "Running": ", ".join(n["jobs"]) or "idle",
                }
                for n in nodes
            ],
            hide_index=True,
        )
    if report["jobs"]:
        st.markdown("**The studio's jobs on the cluster**")
        st.dataframe(
            [
                {
                    "Job": j["id"],
                    "Kind": j["kind"],
                    "Owner": j["owner"],
                    "State": j["state"],
                    "Ray": j["ray_status"] or ("studio queue" if j["state"] == JobState.QUEUED else "—"),
                    "GPUs": j["gpus"],
                    "Node": j["node_name"] or (j["node"] or "—")[:8],
                    "Run": j["run"],
                }
                for j in report["jobs"]
            ],
            hide_index=True,
        )


def storage_section(settings: Settings) -> None:
    """Object storage: the locations datasets are pulled from and results go to, and whether each answers."""
    try:
        rows = location_rows(settings)
    except StorageError as exc:
        st.subheader("Object storage")
        st.error(str(exc), icon=":material/cloud_off:")
        return
    if not (settings.s3_endpoint or settings.storage_file or settings.results_url or settings.s3_buckets):
        st.caption(
            "Datasets and results stay on this disk. To read datasets from buckets (s3://BUCKET/PREFIX) and send "
            "results to one, set ML_STUDIO_S3_ENDPOINT or ML_STUDIO_STORAGE, and ML_STUDIO_RESULTS_URL (README, "
            "*Object storage*)."
        )
        return
    st.subheader("Object storage")
    if settings.results_url:
        st.caption(f"Results go to {settings.results_url} ({', '.join(settings.results_kinds)}).")
    checked = {r["name"]: r for r in st.session_state.get("status.storage", [])}
    table = [
        {
            "location": r["name"],
            "endpoint": r["endpoint"],
            "bucket": r["bucket"] or ", ".join(r["buckets"]) or "any",
            "prefix": r["prefix"],
            "reachable": "" if r["name"] not in checked else ("yes" if checked[r["name"]]["ok"] else "no"),
            "detail": checked.get(r["name"], {}).get("detail", ""),
        }
        for r in rows
    ]
    st.dataframe(table, hide_index=True, width="stretch")
    if st.button("Check the locations", icon=":material/cloud_sync:", key="status.check_storage"):
        with st.spinner("Listing each location with this machine's credentials…"):
            st.session_state["status.storage"] = check_locations(settings)
        st.rerun()
    cache_part(settings)


def cache_part(settings: Settings) -> None:
    """The pull cache: its size, the datasets pulled into it, and freeing the objects none of them uses."""
    usage = cache_usage(settings)
    mib = 2**20
    st.caption(
        f"Pull cache `{usage['folder']}`: {usage['objects']:,} objects, {usage['bytes'] / mib:,.1f} MiB, of which "
        f"{usage['unused_bytes'] / mib:,.1f} MiB no pulled dataset uses."
    )
    if usage["datasets"]:
        st.dataframe(
            [{"dataset": r["url"], "copy": r["path"], "objects": r["objects"]} for r in usage["datasets"]],
            hide_index=True,
            width="stretch",
        )
    if usage["unused_objects"] and current_user() in settings.admins:
        if st.button("Remove the unused objects", icon=":material/delete_sweep:", key="status.trim_cache"):
            freed = trim_cache(settings)
            st.toast(f"Freed {freed['bytes_freed'] / mib:,.1f} MiB", icon=":material/delete_sweep:")
            st.rerun()


def hints_section() -> None:
    st.subheader("Troubleshooting")
    for hint in troubleshooting.ALL_HINTS:
        with st.expander(hint.title):
            for step in hint.steps:
                st.markdown(f"- {step}")
            if hint.command:
                st.code(hint.command, language="bash")


current_settings = page_start(
    "System status",
    "This machine's CPU, memory, disk and GPUs, the jobs that run, and whether PyTorch can use the GPU.",
)

live_figures(current_settings)
jobs_section(current_settings)
cluster_section(current_settings)
storage_section(current_settings)
torch_section(current_settings)
hints_section()
