"""Hardware energy profiles: picojoules per multiply-accumulate (MAC) and per accumulate (AC).

Energy estimates of SNN papers multiply operation counts by per-operation energies measured for a
process node (Horowitz, ISSCC 2014: 45 nm). Profiles are registered by name so a search, a report
and the command line all agree on which constants were used; users add their own from YAML, either
with :func:`load_hardware_yaml` or by naming the files in ``$SNNAS_HARDWARE`` (``os.pathsep``
separated; ``snnas --hardware-config FILE`` sets it). The variable is read when this module is
imported, so Ray workers and resumed runs see the same profiles as the process that started them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from snnas.errors import SnnasError
from snnas.registry import Registry
from snnas.space._names import HARDWARE_NAMES

ENV_VAR = "SNNAS_HARDWARE"


class HardwareError(SnnasError):
    """A malformed hardware-profile YAML file (the message names the file and the field)."""


@dataclass(frozen=True)
class HardwareProfile:
    """Energy per operation in picojoules; ``energy_mj`` turns counts into millijoules."""

    name: str
    e_mac_pj: float
    e_ac_pj: float
    description: str = ""

    def energy_mj(self, macs: float, acs: float) -> float:
        """(MACs x E_MAC + ACs x E_AC) in mJ (1 pJ = 1e-9 mJ)."""
        return (macs * self.e_mac_pj + acs * self.e_ac_pj) * 1e-9


HARDWARE: Registry[HardwareProfile] = Registry("hardware profile", names=HARDWARE_NAMES)

for _p in (
    HardwareProfile("45nm-fp32", 4.6, 0.9, "45 nm CMOS, 32-bit float (Horowitz 2014); the usual SNN figure"),
    HardwareProfile("45nm-fp16", 1.5, 0.4, "45 nm CMOS, 16-bit float (Horowitz 2014)"),
    HardwareProfile("45nm-int8", 0.23, 0.03, "45 nm CMOS, 8-bit integer (Horowitz 2014)"),
):
    HARDWARE.add(_p.name, _p, description=_p.description)


def get_hardware(hardware: str | HardwareProfile) -> HardwareProfile:
    """A profile object from a registered name (unknown names list the valid ones) or a profile."""
    return hardware if isinstance(hardware, HardwareProfile) else HARDWARE.get(hardware)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise HardwareError(f"{where}: must be a non-negative number, got {value!r}")
    return float(value)


def load_hardware_yaml(path: str | Path) -> list[HardwareProfile]:
    """Register the profiles of a YAML file and return them.

    Schema::

        profiles:
          - {name: my-chip, e_mac_pj: 3.1, e_ac_pj: 0.1, description: "..."}

    Loading the same file twice is harmless; a name that is already registered with different
    numbers is an error (results would silently change meaning otherwise).
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as e:
        raise HardwareError(f"{path}: cannot read hardware profiles ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise HardwareError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), list):
        raise HardwareError(f"{path}: profiles: expected a list 'profiles: [{{name, e_mac_pj, e_ac_pj, "
                            "description}]' at the top level")
    parsed = []
    for i, entry in enumerate(doc["profiles"]):
        where = f"{path}: profiles[{i}]"
        if not isinstance(entry, dict):
            raise HardwareError(f"{where}: expected a mapping with name, e_mac_pj, e_ac_pj, description")
        unknown = set(entry) - {"name", "e_mac_pj", "e_ac_pj", "description"}
        if unknown:
            raise HardwareError(f"{where}.{sorted(unknown)[0]}: unknown field; valid: name, e_mac_pj, "
                                "e_ac_pj, description")
        for key in ("name", "e_mac_pj", "e_ac_pj"):
            if key not in entry:
                raise HardwareError(f"{where}.{key}: missing")
        name = entry["name"]
        if not isinstance(name, str) or not name:
            raise HardwareError(f"{where}.name: must be a non-empty string, got {name!r}")
        prof = HardwareProfile(name, _number(entry["e_mac_pj"], f"{where}.e_mac_pj"),
                               _number(entry["e_ac_pj"], f"{where}.e_ac_pj"),
                               str(entry.get("description", "")))
        if name in HARDWARE and HARDWARE.get(name) != prof:
            raise HardwareError(f"{where}.name: profile '{name}' is already registered with other values")
        parsed.append(prof)
    for prof in parsed:
        if prof.name not in HARDWARE:
            HARDWARE.add(prof.name, prof, description=prof.description)
    return parsed


def load_env_profiles() -> list[HardwareProfile]:
    """Register the profiles of every file named in ``$SNNAS_HARDWARE``."""
    return [p for f in hardware_files() for p in load_hardware_yaml(f)]


def use_hardware_files(files: list[str]) -> None:
    """Add ``files`` to ``$SNNAS_HARDWARE`` (for child processes and Ray workers) and register them."""
    current = [f for f in os.environ.get(ENV_VAR, "").split(os.pathsep) if f]
    new = [str(Path(f).resolve()) for f in files if str(Path(f).resolve()) not in current]
    if new:
        os.environ[ENV_VAR] = os.pathsep.join(current + new)
    for f in new:
        load_hardware_yaml(f)


def hardware_files() -> list[str]:
    """The profile files named in ``$SNNAS_HARDWARE`` (recorded in a run's config)."""
    return [f for f in os.environ.get(ENV_VAR, "").split(os.pathsep) if f]


load_env_profiles()
