"""What a studio process on a cluster node is started with: its command line and its environment.

The node runs the studio installed at the same path as here (or ML_STUDIO_RAY_PYTHON), with the studio's
settings and the engine's offline switches; its own PATH, HOME and CUDA_VISIBLE_DEVICES stay its own.
"""

from __future__ import annotations

import shlex
import sys

from mlcore.cluster.connection import RAY_OFFLINE
from mlcore.core.settings import ENV_EXECUTOR, ENV_OUTPUTS, PROJECT_ROOT, Settings
from mlcore.engine.env import engine_variables, seed_engine_config

RAY_EXECUTOR = "ray"
# Ray sets OMP_NUM_THREADS=1 for a job's entrypoint (it expects many small tasks per node); a studio job has
# its node's cores, or one GPU's share of them, as a job on one machine does, so its worker drops the limit
RAY_THREAD_LIMITS = ("OMP_NUM_THREADS",)
STUDIO_PREFIX = "ML_STUDIO_"


def node_python(settings: Settings) -> str:
    """The interpreter the nodes run the studio with."""
    return settings.ray_python or sys.executable


def node_command(settings: Settings, module: str, *args: str) -> str:
    """`python -m module args` as the shell line a Ray job's entrypoint is."""
    return shlex.join([node_python(settings), "-m", module, *args])


def node_environment(settings: Settings, hide_gpus: bool = False) -> dict[str, str]:
    """The variables a node's studio process gets; `hide_gpus` for a job that asked for no GPU (Ray would
    otherwise show it every GPU of the node)."""
    seed_engine_config(settings.outputs_root)
    env = {k: v for k, v in settings.environment.items() if k.startswith(STUDIO_PREFIX)}
    env[ENV_OUTPUTS] = str(settings.outputs_root)  # the same path on every node (shared storage)
    env.update(engine_variables(settings))
    env.update(RAY_OFFLINE)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env[ENV_EXECUTOR] = RAY_EXECUTOR
    if hide_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env
