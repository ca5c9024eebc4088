"""Experiments: the suite once per server setting or model, side by side."""

from __future__ import annotations

import pytest

from tests.environment import environment
from tests.smoke_script import CASES, SQL, PipelineScript
from workbench.errors import ConfigError
from workbench.experiments.servers import (
    CPU_EXPERIMENT,
    Connections,
    model_variants,
    run_variants,
)
from workbench.settings import Settings
from workbench.smoke.compare import model_matrix, variant_rates
from workbench.smoke.runner import SmokeOptions
from workbench.store import open_store

SIMPLE_002, SIMPLE_003, _ = CASES


class RecordingServer:
    """Stands in for the managed server: remembers each restart and the settings it had."""

    restarts: list[Settings] = []

    def __init__(self, settings: Settings):
        self.settings = settings

    def restart(self, progress=None) -> None:
        RecordingServer.restarts.append(self.settings)

    def flags(self) -> dict:
        return {
            "dtype": self.settings.server_dtype,
            "max_num_seqs": self.settings.server_max_num_seqs,
            "prefix_caching": self.settings.server_prefix_caching,
        }


def test_each_server_setting_restarts_the_server_and_is_recorded(settings, demo_database):
    RecordingServer.restarts = []
    store = open_store(settings)
    runs = run_variants(
        environment(settings, PipelineScript().llm(), store=store, database=demo_database),
        CPU_EXPERIMENT,
        options=SmokeOptions(repeats=2, label="knobs"),
        connect=Connections(llm=lambda s: PipelineScript().llm(), server=RecordingServer),
        cases=CASES[:1],
    )
    assert list(runs) == [v.label for v in CPU_EXPERIMENT]
    # one restart per setting, one between the repeats of the restart setting, and one
    # at the end back to the configured server
    assert [
        (s.server_dtype, s.server_max_num_seqs, s.server_prefix_caching)
        for s in RecordingServer.restarts
    ] == [
        ("bfloat16", 4, True), ("bfloat16", 1, True), ("float32", 4, True),
        ("bfloat16", 4, True), ("bfloat16", 4, True), ("bfloat16", 4, False),
        (settings.server_dtype, settings.server_max_num_seqs, settings.server_prefix_caching),
    ]  # fmt: skip
    assert RecordingServer.restarts[-1] == settings
    table = variant_rates(runs)
    assert list(table["dtype"]) == ["bfloat16", "bfloat16", "float32", "bfloat16", "bfloat16"]
    assert list(table["concurrency"]) == [4, 4, 4, 1, 1]
    assert list(table["restart"]) == [False, False, False, True, False]
    assert list(table["prefix_caching"]) == [True, True, True, True, False]
    assert list(table["pass rate"]) == [1.0] * 5
    assert runs["bf16, restart between repeats"].label == "knobs bf16, restart between repeats"


def test_two_models_run_the_same_suite_and_flips_show_in_the_matrix(settings, demo_database):
    store = open_store(settings)
    scripts: dict[str, PipelineScript] = {}

    def llm_for(current: Settings):
        script = PipelineScript()
        if current.model_main == "adapter-b":  # the retrained adapter gets one case wrong
            for call in (1, 2):
                script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=call)
        scripts[current.model_main] = script
        return script.llm()

    env = environment(settings, PipelineScript().llm(), store=store, database=demo_database)
    runs = run_variants(env, model_variants(["adapter-a", "adapter-b"]),
                        connect=Connections(llm=llm_for), cases=CASES[:2])  # fmt: skip
    assert runs["adapter-a"].manifest.models["main"] == "adapter-a"
    assert {r.model for r in scripts["adapter-b"].llm_requests} == {"adapter-b"}
    assert runs["adapter-b"].manifest.models == {
        "main": "adapter-b", "think": "adapter-b", "sql_think": "adapter-b",
    }  # fmt: skip
    matrix = model_matrix(runs).set_index("case")
    assert matrix.loc["simple-003", "flipped"] and not matrix.loc["simple-002", "flipped"]


def test_server_settings_need_the_managed_server(data_dir):
    external = Settings(data_dir=data_dir, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="managed model server"):
        env = environment(external, PipelineScript().llm(), store=open_store(external))
        run_variants(env, CPU_EXPERIMENT[:1])


def test_models_on_the_running_server_need_no_restart_and_leave_it_alone(settings, demo_database):
    RecordingServer.restarts = []
    env = environment(settings, PipelineScript().llm(), store=open_store(settings),
                      database=demo_database)  # fmt: skip
    runs = run_variants(env, model_variants(["adapter-a"]), cases=CASES[:1],
                        connect=Connections(llm=lambda s: PipelineScript().llm(),
                                            server=RecordingServer))  # fmt: skip
    assert list(runs) == ["adapter-a"]
    assert RecordingServer.restarts == []
