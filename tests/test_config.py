"""Settings from ZUNFT_* environment variables (src/zunft/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zunft.config import SETTINGS, SettingsError, load_settings


def test_defaults_come_from_the_table() -> None:
    settings = load_settings({})
    for setting in SETTINGS:
        assert getattr(settings, setting.name) == setting.default
    assert settings.port == 8080
    assert settings.demo is True


def test_environment_overrides_defaults_and_is_parsed() -> None:
    settings = load_settings(
        {
            "ZUNFT_PORT": "9000",
            "ZUNFT_HOST": "192.0.2.7",
            "ZUNFT_SESSION_DAYS": " 30 ",
            "ZUNFT_DATA_DIR": "/srv/zunft",
        }
    )
    assert settings.port == 9000
    assert settings.host == "192.0.2.7"
    assert settings.session_days == 30
    assert settings.data_path == Path("/srv/zunft")


def test_unrelated_variables_are_ignored() -> None:
    settings = load_settings({"PORT": "1", "zunft_port": "2", "ZUNFT_TEST_PG_URL": "x"})
    assert settings.port == 8080


def test_keyword_overrides_win_over_environment() -> None:
    settings = load_settings({"ZUNFT_PORT": "9000"}, port=9100)
    assert settings.port == 9100
    assert settings.with_overrides(host="::1").host == "::1"
    assert settings.host == "127.0.0.1"  # with_overrides returns a copy


def test_unknown_override_is_refused() -> None:
    with pytest.raises(KeyError, match="prot"):
        load_settings({}, prot=1)
    with pytest.raises(KeyError):
        load_settings({}).with_overrides(nonsense=True)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = load_settings({}).nonsense


@pytest.mark.parametrize("value", ["abc", "", "8080.0", "0x1f90", "80 80"])
def test_port_that_is_not_a_number_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"ZUNFT_PORT": value})
    message = str(info.value)
    assert message.startswith(f"ZUNFT_PORT={value!r}:")
    assert "whole number" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ZUNFT_PORT", "0"),
        ("ZUNFT_PORT", "70000"),
        ("ZUNFT_SESSION_DAYS", "0"),
        ("ZUNFT_INVITATION_DAYS", "31"),
        ("ZUNFT_GROUP_COMMIT_MAX", "-1"),
        ("ZUNFT_ARGON2_MEMORY_KIB", "8"),
        ("ZUNFT_ARGON2_TIME_COST", "0"),
        ("ZUNFT_MAX_BODY_BYTES", "0"),
    ],
)
def test_numbers_out_of_range_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}='{value}': expected a number of at least"):
        load_settings({name: value})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        (" True ", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("", False),
    ],
)
def test_booleans(raw: str, expected: bool) -> None:
    assert load_settings({"ZUNFT_DEMO": raw}).demo is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "ja", "y"])
def test_boolean_typo_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^ZUNFT_DEMO=.*expected true or false"):
        load_settings({"ZUNFT_DEMO": raw})


def test_sqlite_lives_in_the_data_dir_unless_a_url_is_given(tmp_path: Path) -> None:
    settings = load_settings({"ZUNFT_DATA_DIR": str(tmp_path)})
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/zunft.sqlite3"
    url = "postgresql+psycopg://zunft@db.example/zunft"
    assert load_settings({"ZUNFT_DATABASE_URL": url}).effective_database_url == url


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [
        ("", False),
        ("http://zunft.example.de", False),
        ("https://zunft.example.de", True),
    ],
)
def test_secure_cookies_follow_the_public_url(public_url: str, secure: bool) -> None:
    assert load_settings({"ZUNFT_PUBLIC_URL": public_url}).secure_cookies is secure


def test_every_setting_has_help_and_a_default_its_parser_accepts() -> None:
    for setting in SETTINGS:
        assert setting.help.strip().endswith(".")
        assert setting.env == "ZUNFT_" + setting.name.upper()
        default = setting.default
        text = str(default).lower() if isinstance(default, bool) else str(default)
        assert setting.parse(text) == default
