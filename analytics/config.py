"""Settings: defaults < config.toml in the workspace < environment ``CALLQA_*``.

Core settings are typed fields. Each stage reads its own table of the TOML file
(``[redact]``, ``[quality]``, ``[abuse]``...) through :meth:`Settings.section` and
parses it into its own typed config, so stages stay decoupled.

Environment: ``CALLQA_HOME``, ``CALLQA_RETENTION_DAYS``, ``CALLQA_MODEL``...
(any core field, upper-cased), and ``CALLQA_<SECTION>__<KEY>`` for a key of a
section (values are parsed as TOML scalars when they can be, else kept as text).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from analytics.errors import ConfigError
from analytics.fields import check_region, parse_bool

DEFAULT_HOME = Path("callqa-home")
CONFIG_FILE = "config.toml"


@dataclass(frozen=True)
class Settings:
    home: Path = DEFAULT_HOME
    retention_days: int = 183
    model: str = "base"  # embedded multilingual base; or tiny.en, a folder, a model name
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "auto"  # auto: int8 on CPU, float16 on a GPU
    beam_size: int = 1
    batch_size: int = 1  # batched text-only decoding drops words (benchmarks/transcription.py)
    encoder_pad_s: float = 3.0  # padding after a window's speech Whisper encodes (30: all)
    workers: int = 2
    cpu_threads: int = 0  # 0: share the cores among workers
    num_gpus: float = 0.0  # Ray, device cuda: GPUs each actor reserves (0: 1; 0.5: two per GPU)
    redacted_audio: bool = True
    caller_region: str = "FR"  # region of caller ids written without a country code
    # Longest recording accepted (ingest reads it from the header, process from the
    # decoded length): 4 h. Guards the queue against a small file of hours of silence.
    max_duration_s: float = 14400.0
    # Empty: the workspace's SQLite file. Else a PostgreSQL URL
    # (postgresql://user@host:port/db), shared by several machines.
    database_url: str = field(default="", repr=False)  # may carry a password
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.home / "callqa.db"

    @property
    def recordings_dir(self) -> Path:
        return self.home / "recordings"

    @property
    def redacted_audio_dir(self) -> Path:
        return self.home / "redacted-audio"

    @property
    def model_cache_dir(self) -> Path:
        return self.home / "models"

    @property
    def key_path(self) -> Path:
        return self.home / "secret.key"

    def section(self, name: str) -> Mapping[str, Any]:
        """The ``[name]`` table of config.toml merged with its env overrides."""
        return self.sections.get(name, {})


_CORE_FIELDS = {f.name: f for f in fields(Settings) if f.name not in ("home", "sections")}


def _coerce(name: str, value: Any, source: str) -> Any:
    target = type(getattr(Settings(), name))
    if target is bool and isinstance(value, str):
        try:
            return parse_bool(value, name)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    try:
        coerced = target(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} must be {target.__name__}, not {value!r}") from None
    if target is int and isinstance(value, float) and value != coerced:
        raise ConfigError(f"{source}: {name} must be a whole number")
    if name == "caller_region":
        try:
            return check_region(coerced)
        except ValueError as exc:
            raise ConfigError(f"{source}: caller_region {exc}") from None
    return coerced


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def read_toml(path: Path, what: str = "settings") -> dict[str, Any]:
    """A TOML data or settings file; ConfigError naming the file when it is unreadable."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def as_list(value: Any) -> list[Any]:
    """A setting that may be one value or a list of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def typed_fields(cls: type, values: Mapping[str, Any], section: str) -> dict[str, Any]:
    """The values of a ``[section]`` cast to the types of ``cls``'s dataclass fields.

    For a section of numbers and booleans (``[diarize]``, ``[voiceprint]``, the
    ``[quality]`` thresholds): an unknown key, a value that is not of its field's
    type, or a negative number raises :class:`ConfigError` naming the section and key.
    """
    known = cls.__dataclass_fields__  # type: ignore[attr-defined]
    typed: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"[{section}]: unknown setting {key!r}")
        typed[key] = _typed_value(known[key].type, value, f"[{section}]: {key}")
    return typed


def _typed_value(kind: Any, value: Any, where: str) -> Any:
    if kind in ("bool", bool):
        if isinstance(value, bool):
            return value
        try:
            return parse_bool(str(value), where)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    try:
        number = (int if kind in ("int", int) else float)(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a number, not {value!r}") from None
    if number < 0:
        raise ConfigError(f"{where} must not be negative")
    return number


def _read_toml(path: Path) -> dict[str, Any]:
    return read_toml(path) if path.exists() else {}


def load_settings(
    home: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve settings for a workspace.

    Args:
        home: the workspace; default ``CALLQA_HOME`` or ``./callqa-home``.
        env: the environment to read (default ``os.environ``), for tests.
        **overrides: core fields set by the caller (CLI options), which win.
    """
    env = os.environ if env is None else env
    home_path = Path(home or env.get("CALLQA_HOME") or DEFAULT_HOME).expanduser()
    toml = _read_toml(home_path / CONFIG_FILE)
    core: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in toml.items():
        if isinstance(value, dict):
            sections[key] = dict(value)
        elif key == "categories" and isinstance(value, list):
            continue  # [[categories]]: read by analytics.insights (callqa categorize)
        elif key in _CORE_FIELDS:
            core[key] = _coerce(key, value, str(home_path / CONFIG_FILE))
        else:
            raise ConfigError(f"{home_path / CONFIG_FILE}: unknown setting {key!r}")
    for var, raw in env.items():
        if not var.startswith("CALLQA_") or var == "CALLQA_HOME":
            continue
        name = var.removeprefix("CALLQA_").lower()
        if "__" in name:
            section, key = name.split("__", 1)
            sections.setdefault(section, {})[key] = _parse_env_value(raw)
        elif name in _CORE_FIELDS:
            core[name] = _coerce(name, raw, var)
    for name, value in overrides.items():
        if value is not None:
            if name not in _CORE_FIELDS:
                raise ConfigError(f"unknown setting {name!r}")
            core[name] = _coerce(name, value, f"option {name}")
    settings = Settings(home=home_path, sections=sections, **core)
    if settings.retention_days < 1:
        raise ConfigError("retention_days must be at least 1")
    if not settings.max_duration_s > 0:
        raise ConfigError("max_duration_s must be a positive number of seconds")
    return settings


def with_home(settings: Settings, home: Path) -> Settings:
    return replace(settings, home=home)
