"""Studio configuration, read from environment variables with sensible defaults.

This is the only module in the studio that reads the environment (and, for libraries that read
their switches from it, sets it: `put_environment`). Everything else asks
`load_settings()` for a `Settings` value, so a test can build one directly.

Variables (all optional):

    ML_STUDIO_OUTPUTS        outputs root (default: ./ml_outputs next to app.py)
    ML_STUDIO_DATASET_ROOTS  folders datasets may be read from, separated by ':' (default: the
                             outputs root's datasets/ folder, the shared datasets beside the
                             checkout, and the home folder)
    ML_STUDIO_MODEL_ROOTS    folders models may be loaded from, besides runs under the outputs
                             root, separated by ':' (default: <outputs>/models)
    ML_STUDIO_HOST           address the app binds to (default: 127.0.0.1, local use only)
    ML_STUDIO_PORT           port of the app (default: 8501)
    ML_STUDIO_UPLOAD_MAX_MB  largest uncompressed size of an uploaded dataset zip (default: 4096)
    ML_STUDIO_UPLOAD_MAX_FILES  most files in an uploaded dataset zip (default: 200000)
    ML_STUDIO_ALLOWED_USERS  with login configured: e-mail addresses and @domains allowed in, comma-separated
    ML_STUDIO_ADMINS         e-mail addresses that may stop or cancel anyone's job (the command line,
                             user "local", always may; "api" for callers of the HTTP API with its token)
    ML_STUDIO_API_TOKEN      the HTTP API's token (or [api] token in .streamlit/secrets.toml); required
                             when the API listens on anything but 127.0.0.1
    ML_STUDIO_API_CORS_ORIGINS  web origins allowed to call the API from a browser, comma-separated
                             (default: none, CORS closed)
    ML_STUDIO_APP_URL        where the API's /ui/ml sends browsers (default: the app's port on the
                             host the API was reached at)
    ML_STUDIO_MLFLOW_URI     an MLflow tracking URI (e.g. sqlite:////srv/mlflow/mlflow.db or http://mlflow:5000)
                             that trainings, evaluations and the registry also log to (default: none, off)
    ML_STUDIO_DEFAULT_MODEL  the model /predict uses when a request names none (default: none)
    ML_STUDIO_PREDICT_MAX_FILES  most images in one prediction request (default: 32)
    ML_STUDIO_PREDICT_MAX_MB     largest image file a prediction request may send (default: 20)
    ML_STUDIO_PREDICT_MAX_MEGAPIXELS  largest image, in millions of pixels (default: 40; larger files
                             are refused before they are decoded, against decompression bombs)
    ML_STUDIO_PREDICT_QUEUE  prediction requests waiting for the predictor before new ones get 429 (default: 64)
    ML_STUDIO_PREDICTOR_MEMORY_MB  memory the predictor's loaded models may take (default: 2048)
    ML_STUDIO_PREDICTOR_DEVICE     where the predictor runs models: auto (the first GPU, else the CPU),
                             cpu, or a GPU index (default: auto)
    ML_STUDIO_RAY_ADDRESS    the job server of a Ray cluster (its dashboard, e.g. http://head:8265) that jobs
                             run on (default: none, jobs run on this machine)
    ML_STUDIO_RAY_PYTHON     the Python interpreter the cluster's nodes run the worker with (default: this
                             one's path, for the studio installed at the same path on every node)
    ML_STUDIO_WEIGHTS_MIRROR a server of pretrained weights that base models may be fetched from: a base URL such
                             as http://mirror.internal/weights/ (a file name such as yolo26n.pt is fetched from
                             <mirror>/yolo26n.pt; a full URL only from the mirror's scheme, host and port;
                             user:password@ in it is used, never shown). Default: none, adding weights from a URL is
                             refused. With internet: https://github.com/ultralytics/assets/releases/download/v8.4.0/
    ML_STUDIO_STREAM_HOSTS   hosts that tracking may open RTSP or HTTP streams from (camera.lan, 10.0.0.7:8554),
                             comma-separated; a host alone allows any port; user:password@host gives the camera's
                             login, which users then leave out of their URLs (default: none, streams are refused)

The studio's own datasets lie under <outputs>/datasets/ (uploads/, dataset versions, the demo), which is always
a dataset root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlcore.core import paths

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # mlcore/core/settings.py -> the checkout
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

ENV_OUTPUTS = "ML_STUDIO_OUTPUTS"
ENV_DATASET_ROOTS = "ML_STUDIO_DATASET_ROOTS"
ENV_MODEL_ROOTS = "ML_STUDIO_MODEL_ROOTS"
ENV_HOST = "ML_STUDIO_HOST"
ENV_PORT = "ML_STUDIO_PORT"
ENV_UPLOAD_MAX_MB = "ML_STUDIO_UPLOAD_MAX_MB"
ENV_UPLOAD_MAX_FILES = "ML_STUDIO_UPLOAD_MAX_FILES"
ENV_ALLOWED_USERS = "ML_STUDIO_ALLOWED_USERS"
ENV_ADMINS = "ML_STUDIO_ADMINS"
ENV_API_TOKEN = "ML_STUDIO_API_TOKEN"
ENV_API_CORS_ORIGINS = "ML_STUDIO_API_CORS_ORIGINS"
ENV_MLFLOW_URI = "ML_STUDIO_MLFLOW_URI"  # an MLflow tracking URI; unset = the MLflow bridge is off
ENV_APP_URL = "ML_STUDIO_APP_URL"
ENV_DEFAULT_MODEL = "ML_STUDIO_DEFAULT_MODEL"
ENV_PREDICT_MAX_FILES = "ML_STUDIO_PREDICT_MAX_FILES"
ENV_PREDICT_MAX_MB = "ML_STUDIO_PREDICT_MAX_MB"
ENV_PREDICT_MAX_MEGAPIXELS = "ML_STUDIO_PREDICT_MAX_MEGAPIXELS"
ENV_PREDICT_QUEUE = "ML_STUDIO_PREDICT_QUEUE"
ENV_PREDICTOR_MEMORY_MB = "ML_STUDIO_PREDICTOR_MEMORY_MB"
ENV_PREDICTOR_DEVICE = "ML_STUDIO_PREDICTOR_DEVICE"
ENV_RAY_ADDRESS = "ML_STUDIO_RAY_ADDRESS"  # unset = the local executor; Ray is then never imported
ENV_RAY_PYTHON = "ML_STUDIO_RAY_PYTHON"
ENV_WEIGHTS_MIRROR = "ML_STUDIO_WEIGHTS_MIRROR"  # unset = base weights are added from files only, never from a URL
ENV_S3_ENDPOINT = "ML_STUDIO_S3_ENDPOINT"  # an S3-compatible endpoint (SeaweedFS, R2, GCS interop); unset = AWS
ENV_S3_BUCKETS = "ML_STUDIO_S3_BUCKETS"  # the buckets s3:// may name on that endpoint ('' = any its keys reach)
AWS_CREDENTIALS = {  # boto3's argument -> the variable that gives it (never shown, logged or recorded)
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}
ENV_RESULTS_URL = "ML_STUDIO_RESULTS_URL"  # s3://BUCKET/PREFIX (or LOCATION:PREFIX) that finished jobs' folders go to
ENV_RESULTS_KINDS = "ML_STUDIO_RESULTS_KINDS"  # which results go there (default: all of RESULT_KINDS)
RESULT_KINDS = ("training", "evaluation", "export", "prediction", "registry")
ENV_STREAM_HOSTS = "ML_STUDIO_STREAM_HOSTS"
ENV_NODE_CACHE = "ML_STUDIO_NODE_CACHE"  # on a Ray node: where its jobs pull datasets from buckets (its own disk)
ENV_STORAGE_FILE = "ML_STUDIO_STORAGE"  # a YAML file naming several storage locations (name, endpoint, bucket, ...)
ENV_GITHUB_STEP_SUMMARY = "GITHUB_STEP_SUMMARY"  # set by GitHub Actions: a pipeline run appends its report there
ENV_EXECUTOR = "ML_STUDIO_EXECUTOR"  # set by the studio in a worker's environment: which executor started it
LOCAL_USER = "local"  # whoever uses the studio without a login: the machine's own user


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the variable and a good value."""


@dataclass(frozen=True)
class PredictLimits:
    """What prediction requests may send, and what the predictor process may hold."""

    default_model: str = ""
    """The model a request that names none is answered with ('' = a request must name one)."""
    max_files: int = 32
    """Most images in one request."""
    max_image_bytes: int = 20 * 2**20
    max_pixels: int = 40_000_000
    """Largest width x height decoded (checked from the header, before decoding)."""
    queue: int = 64
    """Requests waiting for the predictor; one more is answered 429 with Retry-After."""
    memory_bytes: int = 2048 * 2**20
    """Loaded models beyond this are unloaded, least recently used first (the newest always stays)."""
    device: str = "auto"

    def __post_init__(self) -> None:
        if not (self.device in ("auto", "cpu") or self.device.isdigit()):
            raise SettingsError(f"{ENV_PREDICTOR_DEVICE}={self.device!r}; use auto, cpu or a GPU index such as 0.")
        for name, env in (("max_files", ENV_PREDICT_MAX_FILES), ("queue", ENV_PREDICT_QUEUE)):
            if getattr(self, name) < 1:
                raise SettingsError(f"{env}={getattr(self, name)} leaves no room; use at least 1.")


@dataclass(frozen=True)
class Settings:
    """Where the studio keeps its outputs, what it may read, and where it listens."""

    outputs_root: Path
    """Root of every artefact: trainings/, validations/, visualizations/, datasets/, the job database."""
    dataset_roots: tuple[Path, ...]
    """Folders users may read datasets from (paths outside them are refused)."""
    model_roots: tuple[Path, ...]
    """Folders models may be loaded from, besides the runs under the outputs root."""
    host: str = "127.0.0.1"
    """Address the app binds to; anything but loopback exposes it to the network."""
    port: int = 8501
    """Port of the Streamlit app."""
    upload_max_bytes: int = 4096 * 2**20
    """Largest total uncompressed size of an uploaded dataset zip."""
    upload_max_files: int = 200_000
    """Most members of an uploaded dataset zip."""
    allowed_users: tuple[str, ...] = ()
    """With login configured: the e-mail addresses (and '@domain' entries) that may use the studio."""
    admins: tuple[str, ...] = (LOCAL_USER,)
    """Users who may stop or cancel anyone's job."""
    api_token: str = field(default="", repr=False)
    """The HTTP API's token from the environment ('' = none; see also access.api_token)."""
    api_cors_origins: tuple[str, ...] = ()
    """Web origins allowed to call the API from a browser; empty = CORS closed."""
    app_url: str = ""
    """Where the API's /ui/ml redirects; '' = the app's port on the host the API was reached at."""
    mlflow_uri: str = ""
    """MLflow tracking URI that trainings, evaluations and the registry log to ('' = off; mlflow is never imported)."""
    ray_address: str = ""
    """The Ray cluster's job server that jobs run on ('' = this machine, the local executor)."""
    ray_python: str = ""
    """The interpreter the cluster's nodes run workers with ('' = this process's own path)."""
    weights_mirror: str = field(default="", repr=False)
    """Base URL (ending in /) of the server base weights may be fetched from ('' = none); may hold credentials:
    show it only through public_url()."""
    stream_hosts: tuple[str, ...] = field(default=(), repr=False)
    """Hosts ([user:password@]host[:port]) tracking may open streams from; empty = streams are refused. May hold
    credentials: read it only through mlcore.video.sources."""
    s3_endpoint: str = ""
    """The S3-compatible endpoint `s3://` URLs go to ('' = AWS); credentials come from AWS_* or a credentials file."""
    s3_buckets: tuple[str, ...] = ()
    """The buckets `s3://` may name on that endpoint (empty = any that its credentials reach)."""
    storage_file: str = ""
    """A YAML file of named storage locations ('' = none but the endpoint above)."""
    node_cache: Path = Path.home() / ".cache" / "ml-studio"
    """On a Ray node: the node's own folder its jobs pull datasets from buckets into (the same path on every node, on
    each node's local disk)."""
    results_url: str = ""
    """Where finished jobs' folders and registered versions are uploaded ('' = they stay on this disk only)."""
    results_kinds: tuple[str, ...] = RESULT_KINDS
    """Which of RESULT_KINDS are uploaded there."""
    predict: PredictLimits = field(default_factory=PredictLimits)
    """Limits of prediction requests and of the predictor process."""
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The process environment the settings were read from, passed on to child processes."""

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"{ENV_PORT}={self.port} is not a port; use a number from 1 to 65535 (e.g. 8501).")
        if not self.host.strip():
            raise SettingsError(f"{ENV_HOST} is empty; use an address such as 127.0.0.1.")

    @property
    def is_loopback(self) -> bool:
        """True when the app is reachable from this machine only."""
        return self.host in LOOPBACK_HOSTS

    @property
    def demo_dataset_dir(self) -> Path:
        return self.outputs_root / paths.DATASETS_DIR / paths.DEMO_DATASET_NAME

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded datasets are extracted (always among the dataset roots)."""
        return self.outputs_root / paths.DATASETS_DIR / paths.UPLOADS_DIR

    @property
    def image_facts_cache(self) -> Path:
        return self.outputs_root / paths.CACHE_DIR / paths.IMAGE_FACTS_CACHE

    @property
    def engine_config_dir(self) -> Path:
        return self.outputs_root / paths.ENGINE_CONFIG_DIR


def _path_list(value: str, base: Path) -> tuple[Path, ...]:
    parts = [p.strip() for p in value.split(os.pathsep) if p.strip()]
    return tuple(_absolute(p, base) for p in parts)


def _absolute(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return Path(os.path.realpath(path if path.is_absolute() else base / path))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `environ` (default: this process's environment)."""
    env = dict(os.environ if environ is None else environ)
    outputs = _absolute(env.get(ENV_OUTPUTS) or paths.OUTPUTS_DIR, PROJECT_ROOT)

    if env.get(ENV_DATASET_ROOTS):
        dataset_roots = _path_list(env[ENV_DATASET_ROOTS], PROJECT_ROOT)
    else:
        dataset_roots = (
            outputs / paths.DATASETS_DIR,
            _absolute("../shared/datasets", PROJECT_ROOT),
            Path.home().resolve(),
        )
    if env.get(ENV_MODEL_ROOTS):
        model_roots = _path_list(env[ENV_MODEL_ROOTS], PROJECT_ROOT)
    else:
        model_roots = (outputs / paths.MODELS_DIR,)

    node_cache = _absolute(env.get(ENV_NODE_CACHE) or str(Path.home() / ".cache" / "ml-studio"), PROJECT_ROOT)
    # uploads, versions and the demo, and on a Ray node (ENV_EXECUTOR set) its own pulls from buckets: written by the
    # studio, always readable
    owns = (outputs / paths.DATASETS_DIR, *([node_cache / paths.DATASETS_DIR] if env.get(ENV_EXECUTOR) else []))
    for own in owns:
        if not any(own.is_relative_to(root) for root in dataset_roots):
            dataset_roots = (*dataset_roots, own)
    return Settings(
        outputs_root=outputs,
        dataset_roots=dataset_roots,
        model_roots=model_roots,
        host=env.get(ENV_HOST, "127.0.0.1").strip(),
        port=_whole_number(env, ENV_PORT, 8501),
        upload_max_bytes=_whole_number(env, ENV_UPLOAD_MAX_MB, 4096) * 2**20,
        upload_max_files=_whole_number(env, ENV_UPLOAD_MAX_FILES, 200_000),
        allowed_users=_names(env.get(ENV_ALLOWED_USERS, "")),
        admins=(LOCAL_USER, *_names(env.get(ENV_ADMINS, ""))),
        api_token=env.get(ENV_API_TOKEN, "").strip(),
        api_cors_origins=tuple(o.strip() for o in env.get(ENV_API_CORS_ORIGINS, "").split(",") if o.strip()),
        app_url=env.get(ENV_APP_URL, "").strip(),
        mlflow_uri=env.get(ENV_MLFLOW_URI, "").strip(),
        ray_address=env.get(ENV_RAY_ADDRESS, "").strip().rstrip("/"),
        ray_python=env.get(ENV_RAY_PYTHON, "").strip(),
        weights_mirror=_mirror(env.get(ENV_WEIGHTS_MIRROR, "")),
        stream_hosts=tuple(h.strip() for h in env.get(ENV_STREAM_HOSTS, "").split(",") if h.strip()),
        s3_endpoint=env.get(ENV_S3_ENDPOINT, "").strip().rstrip("/"),
        s3_buckets=tuple(b.strip() for b in env.get(ENV_S3_BUCKETS, "").split(",") if b.strip()),
        storage_file=env.get(ENV_STORAGE_FILE, "").strip(),
        node_cache=node_cache,
        results_url=env.get(ENV_RESULTS_URL, "").strip(),
        results_kinds=_kinds(env.get(ENV_RESULTS_KINDS, "")),
        predict=PredictLimits(
            default_model=env.get(ENV_DEFAULT_MODEL, "").strip(),
            max_files=_whole_number(env, ENV_PREDICT_MAX_FILES, 32),
            max_image_bytes=_whole_number(env, ENV_PREDICT_MAX_MB, 20) * 2**20,
            max_pixels=_whole_number(env, ENV_PREDICT_MAX_MEGAPIXELS, 40) * 1_000_000,
            queue=_whole_number(env, ENV_PREDICT_QUEUE, 64),
            memory_bytes=_whole_number(env, ENV_PREDICTOR_MEMORY_MB, 2048) * 2**20,
            device=env.get(ENV_PREDICTOR_DEVICE, "auto").strip() or "auto",
        ),
        environment=env,
    )


def public_url(url: str) -> str:
    """`url` as it may be shown, logged or recorded: without user:password@ and without its query (which may hold
    a token)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def _mirror(value: str) -> str:
    """ML_STUDIO_WEIGHTS_MIRROR as a base URL ending in '/' ('' when unset)."""
    text = value.strip()
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:
        ok = False
    if not ok or parts.query or parts.fragment:
        raise SettingsError(
            f"{ENV_WEIGHTS_MIRROR}={public_url(text)!r} is not a base URL; use e.g. "
            f"{ENV_WEIGHTS_MIRROR}=http://mirror.internal/weights/"
        )
    return text if text.endswith("/") else text + "/"


def _kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in value.split(",") if k.strip()) or RESULT_KINDS
    unknown = [k for k in kinds if k not in RESULT_KINDS]
    if unknown:
        raise SettingsError(f"{ENV_RESULTS_KINDS} names {unknown}; use some of {', '.join(RESULT_KINDS)}.")
    return kinds


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, str(default)).strip()
    if not text.isdigit():
        raise SettingsError(f"{name}={text!r} is not a whole number; use e.g. {name}={default}.")
    return int(text)


def distributed_rank() -> int:
    """-1 in a single-process training, 0..N-1 in the ranks of a multi-GPU one (the RANK that
    torch.distributed gives each process, as Ultralytics reads it)."""
    try:
        return int(os.environ.get("RANK", "-1"))
    except ValueError:
        return -1


def drop_environment(names: tuple[str, ...]) -> None:
    """Remove variables from this process's environment (a limit a launcher set that the studio does not want)."""
    for name in names:
        os.environ.pop(name, None)


def put_environment(values: Mapping[str, str], replace: bool = True) -> None:
    """Set variables in this process's environment, for a library that reads its switches there (MLflow's
    telemetry and HTTP timeouts); with replace=False a variable that is already set keeps its value."""
    for name, value in values.items():
        if replace or name not in os.environ:
            os.environ[name] = value
