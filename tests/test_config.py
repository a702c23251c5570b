"""Settings precedence: defaults < config.toml < env CALLQA_* < CLI options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from analytics.cli import cli
from analytics.config import DEFAULT_HOME, Settings, load_settings
from analytics.errors import ConfigError


def write_toml(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    assert settings == Settings(home=tmp_path)
    assert settings.retention_days == 183
    assert settings.model == "base"
    assert load_settings(env={}).home == DEFAULT_HOME


@pytest.mark.parametrize(
    ("toml", "env", "cli", "expected"),
    [
        (None, {}, {}, 183),
        ("retention_days = 90", {}, {}, 90),
        ("retention_days = 90", {"CALLQA_RETENTION_DAYS": "30"}, {}, 30),
        ("retention_days = 90", {"CALLQA_RETENTION_DAYS": "30"}, {"retention_days": 7}, 7),
        (None, {"CALLQA_RETENTION_DAYS": "30"}, {}, 30),
        (None, {}, {"retention_days": 7}, 7),
        ("retention_days = 90", {}, {"retention_days": None}, 90),  # an unset option
    ],
)
def test_precedence(
    tmp_path: Path, toml: str | None, env: dict[str, str], cli: dict, expected: int
) -> None:
    if toml:
        write_toml(tmp_path, toml)
    assert load_settings(tmp_path, env=env, **cli).retention_days == expected


def test_every_core_field_follows_the_same_order(tmp_path: Path) -> None:
    write_toml(tmp_path, 'model = "tiny.en"\nworkers = 3\nredacted_audio = false\n')
    env = {"CALLQA_WORKERS": "4", "CALLQA_DEVICE": "cpu"}
    settings = load_settings(tmp_path, env=env, device="cuda")
    assert settings.model == "tiny.en"  # toml
    assert settings.workers == 4  # env over toml
    assert settings.device == "cuda"  # option over env
    assert settings.redacted_audio is False


def test_sections_and_their_env_overrides(tmp_path: Path) -> None:
    write_toml(
        tmp_path, "[abuse]\nthreshold = 0.5\nlexicon = 'fr'\n[quality]\nlong_silence_s = 5\n"
    )
    env = {"CALLQA_ABUSE__THRESHOLD": "0.8", "CALLQA_QUALITY__GREETING": "bonjour"}
    settings = load_settings(tmp_path, env=env)
    assert settings.section("abuse") == {"threshold": 0.8, "lexicon": "fr"}
    assert settings.section("quality") == {"long_silence_s": 5, "greeting": "bonjour"}
    assert settings.section("nothing") == {}


def test_home_from_env_and_argument(tmp_path: Path) -> None:
    env = {"CALLQA_HOME": str(tmp_path / "env-home")}
    assert load_settings(env=env).home == tmp_path / "env-home"
    assert load_settings(tmp_path / "arg-home", env=env).home == tmp_path / "arg-home"


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("retention_days = 'soon'", {}, "retention_days must be int"),
        ("retention_days = 0", {}, "at least 1"),
        ("retention_days = 1.5", {}, "whole number"),
        ("colour = 'blue'", {}, "unknown setting 'colour'"),
        ("model = ", {}, "not valid TOML"),
        (None, {"CALLQA_REDACTED_AUDIO": "perhaps"}, "CALLQA_REDACTED_AUDIO"),
        (None, {"CALLQA_WORKERS": "many"}, "CALLQA_WORKERS"),
    ],
)
def test_bad_settings_are_config_errors(
    tmp_path: Path, toml: str | None, env: dict[str, str], message: str
) -> None:
    if toml:
        write_toml(tmp_path, toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, env=env)


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="colour"):
        load_settings(tmp_path, env={}, colour="blue")


def test_cli_home_beats_env_home(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CALLQA_HOME": str(tmp_path / "env-home")}
    result = runner.invoke(cli, ["--home", str(tmp_path / "cli-home"), "status"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli-home" / "callqa.db").exists()
    assert not (tmp_path / "env-home").exists()
    result = runner.invoke(cli, ["status"], env=env)
    assert result.exit_code == 0
    assert (tmp_path / "env-home" / "callqa.db").exists()


def test_cli_reports_a_bad_config_as_a_usage_error(tmp_path: Path) -> None:
    write_toml(tmp_path, "retention_days = 'soon'")
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "status"])
    assert result.exit_code == 2
    assert "retention_days" in result.stderr


def test_caller_region_setting(tmp_path: Path) -> None:
    assert load_settings(tmp_path, env={}).caller_region == "FR"
    assert load_settings(tmp_path, env={"CALLQA_CALLER_REGION": "be"}).caller_region == "BE"
    with pytest.raises(ConfigError, match="CALLQA_CALLER_REGION: caller_region 'XX' is not"):
        load_settings(tmp_path, env={"CALLQA_CALLER_REGION": "XX"})


def test_boolean_settings_share_the_one_parser(tmp_path: Path) -> None:
    assert load_settings(tmp_path, env={"CALLQA_REDACTED_AUDIO": "non"}).redacted_audio is False
    with pytest.raises(ConfigError, match="redacted_audio must be true or false"):
        load_settings(tmp_path, env={"CALLQA_REDACTED_AUDIO": "maybe"})


@dataclass(frozen=True)
class _Section:
    count: int = 1
    ratio: float = 0.5
    enabled: bool = False


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"count": "3", "ratio": 2}, {"count": 3, "ratio": 2.0}),
        ({"enabled": "oui"}, {"enabled": True}),
        ({"enabled": False}, {"enabled": False}),
    ],
)
def test_typed_fields_cast_by_the_dataclass_types(values: dict, expected: dict) -> None:
    from analytics.config import typed_fields

    typed = typed_fields(_Section, values, "demo")
    assert typed == expected
    assert {key: type(value) for key, value in typed.items()} == {
        key: type(value) for key, value in expected.items()
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"colour": 1}, r"\[demo\]: unknown setting 'colour'"),
        ({"count": "many"}, r"\[demo\]: count must be a number, not 'many'"),
        ({"ratio": -0.1}, r"\[demo\]: ratio must not be negative"),
        ({"enabled": "maybe"}, r"\[demo\]: enabled must be true or false"),
    ],
)
def test_typed_fields_name_the_section_and_key(values: dict, message: str) -> None:
    from analytics.config import typed_fields

    with pytest.raises(ConfigError, match=message):
        typed_fields(_Section, values, "demo")
