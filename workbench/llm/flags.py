"""The server's launch flags, each with what it does to determinism.

A run's outputs depend on how the server was started as much as on the prompts; the
Model server page shows this table so that an engineer who sees a flip can tell which
knob to turn. The sentences are what was measured here or documented by vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FlagLine:
    """One launch flag: how it is written, its value here, and its effect on outputs."""

    setting: str
    flag: str
    value: str
    determinism: str


def _on(value: Any) -> str:
    return "on" if value else "off"


def flag_lines(flags: dict[str, Any]) -> tuple[FlagLine, ...]:
    """The rows of the flags table for ``ServerManager.flags()``."""
    gpu = flags.get("profile") == "gpu"
    seqs = flags.get("max_num_seqs")
    rows = [
        FlagLine(
            "WORKBENCH_LOCAL_MODEL" if not gpu else "WORKBENCH_SERVER_GPU_MODEL",
            "--model",
            str(flags.get("model")),
            "Which weights answer: the largest change of all. Recorded with every run "
            "(name and file hash), so runs on different models are never compared blind.",
        ),
        FlagLine(
            "WORKBENCH_SERVER_DTYPE",
            "--dtype",
            str(flags.get("dtype")),
            "bfloat16 rounds each sum more coarsely: requests computed together can come out "
            "differently from the same requests one by one. float32 passes the concurrency "
            "self-test on this CPU build (slower one at a time, but cases may go four at once), "
            "so it is the CPU default.",
        ),
        FlagLine(
            "WORKBENCH_SERVER_PREFIX_CACHING",
            "--enable-prefix-caching / --no-enable-prefix-caching",
            _on(flags.get("prefix_caching")),
            "On: a repeat reuses the attention state an earlier request left for the same "
            "prefix, computed in another batch shape, which is enough to flip a near-tie "
            "between two repeats. Off: every repeat computes the same prefill.",
        ),
        FlagLine(
            "WORKBENCH_SERVER_MAX_NUM_SEQS",
            "--max-num-seqs",
            str(seqs),
            "How many requests share a batch. 1 serializes them: batching can no longer "
            "change an output (slowest). More: which requests happen to run together can "
            "change a near-tie.",
        ),
        FlagLine(
            "WORKBENCH_SERVER_ENFORCE_EAGER",
            "--enforce-eager",
            _on(flags.get("enforce_eager")),
            "Eager kernels instead of compiled graphs: starts in ~35 s instead of minutes; "
            "eager and compiled give different texts, each stable from run to run, so "
            "changing it changes outputs.",
        ),
        FlagLine(
            "WORKBENCH_SERVER_BATCH_INVARIANT",
            "VLLM_BATCH_INVARIANT=1 (environment)",
            _on(flags.get("batch_invariant")),
            "Kernels whose result does not depend on the batch: the same request gives the "
            "same tokens alone or batched. GPU only; the CPU build does not support it.",
        ),
        FlagLine(
            "WORKBENCH_SEED",
            "--seed",
            str(flags.get("seed")),
            "Seeds any sampling. At temperature 0 nothing is sampled, so it changes nothing "
            "here; it is recorded so a sampled experiment can be reproduced.",
        ),
        FlagLine(
            "WORKBENCH_SERVER_MAX_MODEL_LEN",
            "--max-model-len",
            f"{flags.get('max_model_len', '')}",
            "The longest prompt plus answer. No effect on outputs that fit; a longer prompt "
            "is refused. A smaller value leaves the KV cache room for more requests at once.",
        ),
        FlagLine(
            "WORKBENCH_SERVER_KV_CACHE_GIB",
            "--kv-cache-memory-bytes",
            f"{flags.get('kv_cache_gib')} GiB",
            "Room for attention state. Too little and requests wait, or are preempted and "
            "recomputed in another batch shape, which can change a near-tie.",
        ),
    ]
    return tuple(rows)
