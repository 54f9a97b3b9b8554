"""Where the model runs: ONNX Runtime's providers, and why CUDA cannot run when it cannot.

Rehue ships the runtime as an extra: ``pip install 'rehue[cpu]'`` (onnxruntime) or
``pip install 'rehue[gpu]'`` (onnxruntime-gpu with CUDA and cuDNN as pip wheels). The GPU build
lists CUDA among its providers even on a computer without an NVIDIA card, so the list is not
trusted: ``cuda_problem`` looks for the driver and the libraries first, and the engine checks what
each session really got (``session.get_providers()``).
"""

from __future__ import annotations

import ctypes
import importlib
from collections.abc import Sequence
from types import ModuleType

# The one table of providers: the choices users see (settings, --provider) and ONNX Runtime's names.
PROVIDER_CHOICES = {"auto": "Automatic (GPU if available)", "cpu": "CPU", "cuda": "GPU (CUDA)"}
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}

INSTALL_HINT = "install Rehue with its runtime: pip install 'rehue[cpu]' (or 'rehue[gpu]' for an NVIDIA GPU)"


class RuntimeMissing(ImportError):
    """ONNX Runtime is not installed, or is broken (two builds installed over each other)."""


def load_runtime() -> ModuleType:
    """``onnxruntime``, checked: uninstalling one of two builds that share the import leaves a
    package without its core, which would otherwise fail later with an AttributeError."""
    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise RuntimeMissing(f"ONNX Runtime is not installed ({exc}): {INSTALL_HINT}") from exc
    if not hasattr(ort, "InferenceSession") or not hasattr(ort, "SessionOptions"):
        raise RuntimeMissing("ONNX Runtime is damaged (onnxruntime and onnxruntime-gpu were installed into one "
                             "environment and one removed): pip uninstall -y onnxruntime onnxruntime-gpu, then "
                             + INSTALL_HINT)
    return ort


def choose_providers(requested: str | None, available: Sequence[str]) -> list[str]:
    """ONNX Runtime providers to ask for: CUDA then CPU for 'auto' or 'cuda' (when listed), else CPU."""
    requested = (requested or "auto").lower()
    if requested not in PROVIDER_CHOICES:
        from rehue.engine import EngineError

        raise EngineError(f"unknown provider {requested!r}: use {', '.join(PROVIDER_CHOICES)}")
    chosen = []
    if requested in ("auto", "cuda") and PROVIDERS["cuda"] in available:
        chosen.append(PROVIDERS["cuda"])
    chosen.append(PROVIDERS["cpu"])
    return chosen


def library_loads(name: str) -> bool:
    """Whether the system's dynamic loader finds and loads this shared library."""
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


def cuda_problem(ort: ModuleType | None = None) -> str | None:
    """Why CUDA cannot run here, in one line that says what to do; None when nothing is known
    against it. Loads the pip-installed CUDA/cuDNN libraries first (``preload_dlls``)."""
    ort = ort or load_runtime()
    if PROVIDERS["cuda"] not in ort.get_available_providers():
        return "this installation has no GPU runtime: for an NVIDIA GPU, reinstall with pip install 'rehue[gpu]'"
    if not library_loads("libcuda.so.1") and not library_loads("nvcuda.dll"):
        return "no NVIDIA driver was found (libcuda): install the NVIDIA driver, or run on the CPU"
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        try:
            preload(cuda=True, cudnn=True, msvc=False)
        except Exception as exc:  # a missing wheel: say which
            return f"the CUDA/cuDNN libraries could not be loaded ({exc}): reinstall with pip install 'rehue[gpu]'"
    # Load ONNX Runtime's CUDA provider library the way a session would: if one of the CUDA/cuDNN
    # libraries it needs is missing, the loader's message names it (a session would only fall
    # back to the CPU in silence).
    import os

    capi = os.path.join(os.path.dirname(ort.__file__ or ""), "capi")
    provider_lib = os.path.join(capi, "libonnxruntime_providers_cuda.so")
    if os.path.exists(provider_lib):
        try:
            ctypes.CDLL(provider_lib)
        except OSError as exc:
            missing = str(exc).split(":")[0].strip()
            return (f"a CUDA library is missing ({missing}): reinstall with pip install 'rehue[gpu]', "
                    "which brings CUDA and cuDNN")
    return None


def usable_choices(ort: ModuleType | None = None) -> dict[str, str]:
    """The provider choices this installation can run, with their labels (what Settings offers)."""
    choices = dict(PROVIDER_CHOICES)
    if cuda_problem(ort) is not None:
        choices.pop("cuda")
        choices["auto"] = "Automatic (CPU on this computer)"
    return choices


def describe_failure(exc: BaseException) -> str:
    """A one-line reason for a CUDA session that failed to start or to run."""
    text = str(exc)
    low = text.lower()
    if "out of memory" in low or "cudaerrormemoryallocation" in low:
        return "the GPU ran out of memory: close other GPU programs, or run on the CPU"
    if "no cuda-capable device" in low or "cudaerrornodevice" in low:
        return "no CUDA-capable GPU was found"
    if "cannot open shared object" in low or "library" in low:
        return f"a CUDA library is missing ({text.splitlines()[0][:160]}): reinstall with pip install 'rehue[gpu]'"
    return f"CUDA failed: {text.splitlines()[0][:200] if text else type(exc).__name__}"
