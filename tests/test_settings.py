"""Settings that cannot work are refused naming the variable; unknown variables are found."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.settings import load_settings, unknown_variables


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sql_timeout_s", "0", "greater than 0"),  # 0 would switch the timeout off
        ("sql_timeout_s", "-1", "greater than 0"),
        ("sql_timeout_s", "nan", "finite"),
        ("request_timeout_s", "inf", "finite"),
        ("connect_timeout_s", "0", "greater than 0"),
        ("server_start_timeout_s", "-5", "greater than 0"),
        ("sql_row_cap", "0", "greater than or equal to 1"),
        ("max_retries", "-1", "greater than or equal to 0"),
        ("server_port", "70000", "less than or equal to 65535"),
        ("server_max_num_seqs", "0", "greater than or equal to 1"),
        ("server_kv_cache_gib", "inf", "finite"),
        ("base_url", "http://[::1/v1", "Invalid IPv6 URL"),
        ("base_url", "http://127.0.0.1:99999/v1", "Port out of range"),
        ("base_url", "http:///v1", "names no host"),
        ("base_url", "localhost:8000/v1", "http:// or https://"),
        ("base_url", "http://a:8000/v1, ftp://b/v1", "'ftp://b/v1'"),
        ("store_url", "not a url", "not an SQLAlchemy URL"),
    ],
)
def test_a_value_that_cannot_work_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str, message: str
) -> None:
    variable = f"WORKBENCH_{field.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable) as caught:
        load_settings()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://[::1]:8000/v1", "https://gpu-box.example:443/v1", "http://127.0.0.1:8000/v1"]
)
def test_good_base_urls_pass_ipv6_included(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("WORKBENCH_BASE_URL", url)
    assert load_settings().base_urls == (url,)


def test_unknown_variables_are_named_with_the_setting_meant() -> None:
    found = unknown_variables(
        {
            "WORKBENCH_SQL_TIMEOUT": "3",  # the _S is missing
            "WORKBENCH_BASEURL": "http://x/v1",
            "WORKBENCH_COLOUR": "blue",
            "WORKBENCH_SQL_ROW_CAP": "5",  # a setting
            "WORKBENCH_TEST_BASE_URL": "http://x/v1",  # read by the test suite
            "PATH": "/bin",
        }
    )
    assert found == [
        "WORKBENCH_BASEURL is not a setting and is ignored; did you mean WORKBENCH_BASE_URL?",
        "WORKBENCH_COLOUR is not a setting and is ignored; python -m workbench info lists the settings",
        "WORKBENCH_SQL_TIMEOUT is not a setting and is ignored; did you mean WORKBENCH_SQL_TIMEOUT_S?",
    ]
