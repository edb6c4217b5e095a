"""The precision an export runs at, not only the one it is stored at, and what this machine's CPU offers.

OpenVINO's CPU plugin computes in bfloat16 by default on CPUs with AVX512-BF16 or AMX (its
INFERENCE_PRECISION_HINT), so an IR stored at fp32 would run at bf16 there. The studio therefore names,
for each precision, the hint every compile of an OpenVINO export asks for:

    fp32  f32    weights and arithmetic in float32, on every CPU
    fp16  f32    weights stored at half precision (half the size), computed in float32 on the CPU: x86 CPUs
                 compute f16 only with AMX-FP16, and a model that ran at f16 on some machines and f32 on others
                 would not be the model that was checked
    int8  f32    the quantized layers in int8; the rest in float32, as the calibration (nncf) ran it
    bf16  bf16   weights and arithmetic in bfloat16: offered only where the CPU has it

    hint = INFERENCE_HINTS["fp32"]        # "f32"
    cpu_has_bf16()                         # OpenVINO's reading of this CPU, asked once per process
"""

from __future__ import annotations

from functools import lru_cache

INFERENCE_HINTS = {"fp32": "f32", "fp16": "f32", "int8": "f32", "bf16": "bf16"}
"""OpenVINO's INFERENCE_PRECISION_HINT for each precision of an export."""
HINT_PROPERTY = "INFERENCE_PRECISION_HINT"
DEFAULT_HINT = "f32"  # an OpenVINO model whose export recorded no hint runs at full precision, never the CPU's default
BF16 = "bf16"
BF16_CAPABILITY = "BF16"  # in OpenVINO's OPTIMIZATION_CAPABILITIES of the CPU


@lru_cache(maxsize=1)
def cpu_capabilities() -> tuple[str, ...]:
    """OpenVINO's OPTIMIZATION_CAPABILITIES of this CPU (e.g. FP32, INT8, BF16); () without OpenVINO."""
    try:
        import openvino as ov

        return tuple(str(c) for c in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:  # not installed, or no CPU plugin: nothing is offered that needs it
        return ()


def cpu_has_bf16() -> bool:
    return BF16_CAPABILITY in cpu_capabilities()


def bf16_missing() -> str | None:
    """None where this CPU computes in bfloat16, else why bf16 is not offered (and what to choose)."""
    if cpu_has_bf16():
        return None
    found = ", ".join(cpu_capabilities()) or "none (OpenVINO is not installed)"
    return (
        f"bf16 runs on CPUs with bfloat16 instructions (AVX512-BF16 or AMX), which OpenVINO lists as {BF16_CAPABILITY} "
        f"among the CPU's capabilities; this CPU has {found}. Choose fp32 (or int8 for speed)."
    )


def compile_config(hint: str) -> dict[str, str]:
    """What an OpenVINO compile is given so that it computes at `hint`."""
    return {HINT_PROPERTY: hint}


def offered_precisions() -> tuple[str, ...]:
    """The precisions an export can be asked for on this machine (bf16 only where the CPU has it)."""
    return tuple(p for p in INFERENCE_HINTS if p != BF16 or cpu_has_bf16())
