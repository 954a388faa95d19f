"""Hardware profiles: built-in constants and user YAML files."""

from __future__ import annotations

import pytest

from snnas.errors import SnnasError, UnknownNameError
from snnas.evaluate import HARDWARE, HardwareError, HardwareProfile, get_hardware, load_hardware_yaml


def test_builtin_profiles():
    assert [(p.e_mac_pj, p.e_ac_pj) for p in map(HARDWARE.get, ("45nm-fp32", "45nm-fp16", "45nm-int8"))] == [
        (4.6, 0.9), (1.5, 0.4), (0.23, 0.03)]
    assert HardwareProfile("x", 2.0, 1.0).energy_mj(1e9, 1e9) == pytest.approx(3.0)
    with pytest.raises(UnknownNameError, match="did you mean '45nm-fp32'"):
        get_hardware("45nm-fp33")


def test_load_yaml_registers_profiles(tmp_path):
    f = tmp_path / "hw.yaml"
    f.write_text("profiles:\n  - {name: test-chip-a, e_mac_pj: 3, e_ac_pj: 0.5, description: demo}\n")
    (prof,) = load_hardware_yaml(f)
    assert prof == HardwareProfile("test-chip-a", 3.0, 0.5, "demo") and HARDWARE.get("test-chip-a") == prof
    assert load_hardware_yaml(f) == [prof]  # loading again is harmless
    f.write_text("profiles:\n  - {name: test-chip-a, e_mac_pj: 4, e_ac_pj: 0.5}\n")
    with pytest.raises(HardwareError, match="already registered"):
        load_hardware_yaml(f)


@pytest.mark.parametrize("text,where", [
    ("profiles: {name: a}", "profiles: expected a list"),
    ("profiles:\n  - {name: b, e_ac_pj: 1}", "profiles[0].e_mac_pj: missing"),
    ("profiles:\n  - {name: c, e_mac_pj: 1, e_ac_pj: 1}\n  - {name: d, e_mac_pj: fast, e_ac_pj: 1}",
     "profiles[1].e_mac_pj: must be a non-negative number, got 'fast'"),
    ("profiles:\n  - {name: e, e_mac_pj: 1, e_ac_pj: -1}", "profiles[0].e_ac_pj: must be a non-negative"),
    ("profiles:\n  - {name: f, e_mac_pj: 1, e_ac_pj: 1, e_ma_pj: 2}", "profiles[0].e_ma_pj: unknown field"),
    ("profiles: [1]", "profiles[0]: expected a mapping"),
    ("profiles: [", "not valid YAML"),
])
def test_yaml_errors_name_file_and_field(tmp_path, text, where):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(HardwareError) as e:
        load_hardware_yaml(f)
    assert str(e.value).startswith(f"{f}: ") and where in str(e.value)
    assert isinstance(e.value, SnnasError) and "c" not in HARDWARE


def test_missing_yaml_file(tmp_path):
    with pytest.raises(HardwareError, match="nope.yaml: cannot read"):
        load_hardware_yaml(tmp_path / "nope.yaml")
