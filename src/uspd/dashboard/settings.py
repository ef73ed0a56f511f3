"""The settings a presence-sensor user tunes from the page: validated, saved, applied.

:data:`EDITABLE` lists them (sensitivity, hold and vacancy times); each routine can be
switched on and off. A change is checked the way ``--config`` is checked (the whole
config validated, one sentence naming the key on error), then written to the same TOML
files the run was started with, then handed to the running chain, which applies it
between two blocks (:meth:`~uspd.live.run.LiveChain.update_settings`). Nothing is
applied that was not saved, and nothing saved that is invalid.

Saving keeps the user's file as written — comments, order, keys the dashboard does not
know — because it edits the parsed document (tomlkit) rather than writing the config
anew, and it is atomic: a temporary file beside the original, flushed to disk, then
renamed over it, so a crash leaves the old file or the new one, never half of one.
Routines from ``live.routines_file`` are switched in that file.

Without a config file the changes apply to the running chain only, and the page says so.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import annotated_types
import tomlkit
from tomlkit.exceptions import TOMLKitError

from uspd.config import Config, ConfigError, DutyCycleConfig, PresenceConfig, config_from_dict
from uspd.live.routines import load_routines


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    label: str
    group: str
    unit: str
    step: float


EDITABLE: tuple[Setting, ...] = (
    Setting("presence", "major_threshold", "Walking motion threshold", "Sensitivity", "score", 0.01),
    Setting("presence", "minor_threshold", "Small motion threshold", "Sensitivity", "score", 0.01),
    Setting("presence", "sensitive_threshold", "Small motion threshold while occupied", "Sensitivity", "score", 0.01),
    Setting("presence", "sensitive_s", "Raised sensitivity lasts", "Sensitivity", "s", 60),
    Setting("presence", "confirm_frames", "Frames that confirm a motion", "Sensitivity", "hops", 1),
    Setting("presence", "release_frames", "Frames without motion that end one", "Sensitivity", "hops", 1),
    Setting("presence", "hold_s", "Vacant after no motion for", "Timing", "s", 10),
    Setting("presence", "departure_vacancy_s", "Vacant after someone leaves", "Timing", "s", 5),
    Setting("presence", "minor_occupy_s", "Small motion that occupies an empty room", "Timing", "s", 0.5),
    Setting("duty_cycle", "off_s", "Tone off between probes", "Emission duty", "s", 5),
    Setting("duty_cycle", "probe_s", "Probe that confirms presence", "Emission duty", "s", 0.5),
)
_SECTIONS = {"presence": PresenceConfig, "duty_cycle": DutyCycleConfig}
_BOUNDS = {annotated_types.Gt: "gt", annotated_types.Ge: "ge", annotated_types.Lt: "lt", annotated_types.Le: "le"}


class SettingsError(ValueError):
    """A change the user can fix, in one sentence."""


class Settings:
    """The editable settings of one run: read from and saved to its config files."""

    def __init__(self, config: Config, path: Path | None,
                 apply: Callable[[PresenceConfig, dict[str, bool], DutyCycleConfig], None]) -> None:
        self.config = config
        self.path = path
        self.apply = apply
        self.routines = load_routines(config)
        self._unsaved = tomlkit.document()  # the changes so far, when there is no file to keep them
        self._lock = threading.Lock()

    def describe(self) -> dict:
        """Every editable setting with its value, limits and help, and the routines."""
        fields = []
        for s in EDITABLE:
            info = _SECTIONS[s.section].model_fields[s.key]
            bounds = {_BOUNDS[type(m)]: getattr(m, _BOUNDS[type(m)]) for m in info.metadata if type(m) in _BOUNDS}
            fields.append({
                "section": s.section, "key": s.key, "label": s.label, "group": s.group, "unit": s.unit,
                "step": s.step, "help": info.description, "value": getattr(getattr(self.config, s.section), s.key),
                **bounds,
            })
        return {
            "fields": fields,
            "routines": [{"name": r.name, "trigger": r.trigger, "enabled": r.enabled} for r in self.routines],
            "config_file": None if self.path is None else str(self.path),
        }

    def change(self, changes: dict) -> dict:
        """Validate, save, apply; ``changes``: ``{"presence": {key: value}, "duty_cycle": {key: value},
        "routines": {name: on}}``.
        Raises :class:`SettingsError` (nothing saved or applied) or OSError (not saved, not applied)."""
        with self._lock:
            config_doc = tomlkit.parse(tomlkit.dumps(self._unsaved)) if self.path is None else _read(self.path)
            routines_path = self.config.live.routines_file
            routines_doc = _read(Path(routines_path)) if routines_path is not None else None
            for section, values in changes.items():
                if not isinstance(values, dict):
                    raise SettingsError(f"'{section}' must map names to values")
                if section == "routines":
                    for name, enabled in values.items():
                        _switch_routine(config_doc, routines_doc, name, enabled)
                    continue
                for key, value in values.items():
                    if not any(s.section == section and s.key == key for s in EDITABLE):
                        raise SettingsError(f"'{section}.{key}' is not a setting the dashboard changes; edit the config file for it")
                    if section not in config_doc:
                        config_doc[section] = tomlkit.table()
                    config_doc[section][key] = value
            try:
                config = config_from_dict(config_doc.unwrap(), source=str(self.path or "settings"))
                routines = load_routines(config, routines_doc.unwrap() if routines_doc is not None else None)
            except ConfigError as err:
                raise SettingsError(str(err)) from None
            for section, values in changes.items():  # save what was validated: 60 → 60.0 for a float
                if section != "routines":
                    for key in values:
                        config_doc[section][key] = getattr(getattr(config, section), key)
            if self.path is None:
                self._unsaved = config_doc
            else:
                if routines_doc is not None and "routines" in changes:
                    write_atomic(Path(routines_path), tomlkit.dumps(routines_doc))
                write_atomic(self.path, tomlkit.dumps(config_doc))
            self.config = self.config.model_copy(update={"presence": config.presence, "duty_cycle": config.duty_cycle})
            self.routines = routines
            self.apply(config.presence, {r.name: r.enabled for r in routines}, config.duty_cycle)
            return {**self.describe(), "saved": self.path is not None}


def _switch_routine(config_doc, routines_doc, name: str, enabled) -> None:
    if not isinstance(enabled, bool):
        raise SettingsError(f"routine '{name}' must be switched with true or false, got {enabled!r}")
    for doc in (config_doc, routines_doc):
        for table in (doc or {}).get("routines", []):
            if table.get("name") == name:
                table["enabled"] = enabled
                return
    raise SettingsError(f"there is no routine named '{name}'")


def _read(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text())
    except OSError as err:
        raise SettingsError(f"cannot read {path}: {err.strerror or err}") from None
    except TOMLKitError as err:
        raise SettingsError(f"{path} is no longer valid TOML ({err}); fix it by hand, nothing was changed") from None


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` so that it is never seen half-written: write a temporary
    file in the same folder, flush it to disk, rename it over the original (keeping its
    permissions), then flush the folder."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
