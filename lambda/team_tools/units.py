"""An example of the team's own tools: unit conversion, exact and offline (enable it as `convert_units`)."""

from __future__ import annotations

import math
from typing import Final

from strands import tool

# Each unit: its quantity, and how many of the quantity's base unit one of it is (metre, kilogram, litre,
# metre per second, second, byte). Names are matched without regard to case.
_UNITS: Final[dict[str, tuple[str, float]]] = {
    **dict.fromkeys(("m", "metre", "meter"), ("length", 1.0)),
    **dict.fromkeys(("km", "kilometre", "kilometer"), ("length", 1000.0)),
    **dict.fromkeys(("cm", "centimetre", "centimeter"), ("length", 0.01)),
    **dict.fromkeys(("mm", "millimetre", "millimeter"), ("length", 0.001)),
    **dict.fromkeys(("mi", "mile"), ("length", 1609.344)),
    **dict.fromkeys(("yd", "yard"), ("length", 0.9144)),
    **dict.fromkeys(("ft", "foot", "feet"), ("length", 0.3048)),
    **dict.fromkeys(("in", "inch"), ("length", 0.0254)),
    **dict.fromkeys(("nmi", "nautical mile"), ("length", 1852.0)),
    **dict.fromkeys(("kg", "kilogram"), ("mass", 1.0)),
    **dict.fromkeys(("g", "gram"), ("mass", 0.001)),
    **dict.fromkeys(("mg", "milligram"), ("mass", 1e-6)),
    **dict.fromkeys(("t", "tonne"), ("mass", 1000.0)),
    **dict.fromkeys(("lb", "pound"), ("mass", 0.45359237)),
    **dict.fromkeys(("oz", "ounce"), ("mass", 0.028349523125)),
    **dict.fromkeys(("l", "litre", "liter"), ("volume", 1.0)),
    **dict.fromkeys(("ml", "millilitre", "milliliter"), ("volume", 0.001)),
    **dict.fromkeys(("m3", "cubic metre", "cubic meter"), ("volume", 1000.0)),
    **dict.fromkeys(("gal", "gallon"), ("volume", 3.785411784)),  # US liquid gallon
    **dict.fromkeys(("fl oz", "fluid ounce"), ("volume", 0.0295735295625)),  # US fluid ounce
    **dict.fromkeys(("m/s",), ("speed", 1.0)),
    **dict.fromkeys(("km/h", "kph"), ("speed", 1000.0 / 3600.0)),
    **dict.fromkeys(("mph",), ("speed", 1609.344 / 3600.0)),
    **dict.fromkeys(("kn", "knot"), ("speed", 1852.0 / 3600.0)),
    **dict.fromkeys(("s", "second"), ("time", 1.0)),
    **dict.fromkeys(("min", "minute"), ("time", 60.0)),
    **dict.fromkeys(("h", "hour"), ("time", 3600.0)),
    **dict.fromkeys(("d", "day"), ("time", 86400.0)),
    **dict.fromkeys(("week",), ("time", 604800.0)),
    **dict.fromkeys(("byte",), ("data", 1.0)),
    **{name.lower(): ("data", 1000.0**power) for power, name in enumerate(("KB", "MB", "GB", "TB"), 1)},
    **{name.lower(): ("data", 1024.0**power) for power, name in enumerate(("KiB", "MiB", "GiB", "TiB"), 1)},
}
# Temperatures are not proportional: each scale is (offset, factor), K = (value + offset) * factor.
_TEMPERATURES: Final[dict[str, tuple[float, float]]] = {
    **dict.fromkeys(("k", "kelvin"), (0.0, 1.0)),
    **dict.fromkeys(("c", "°c", "celsius"), (273.15, 1.0)),
    **dict.fromkeys(("f", "°f", "fahrenheit"), (459.67, 5.0 / 9.0)),
}
MAX_MAGNITUDE: Final = 1e15


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a quantity between units of length, mass, volume, speed, time, data size or temperature.

    Units: m km cm mm mi yd ft in nmi; kg g mg t lb oz; l ml m3 gal (US) fl oz; m/s km/h mph kn;
    s min h d week; byte KB MB GB TB KiB MiB GiB TiB; C F K (names such as "mile" or "celsius" work too).

    Args:
        value: The quantity to convert, such as 12.5.
        from_unit: The unit of `value`, such as "km".
        to_unit: The unit to convert to, such as "mi".

    """
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"value must be a finite number of magnitude at most {MAX_MAGNITUDE:g}")
    source, target = from_unit.strip().lower(), to_unit.strip().lower()
    if source in _TEMPERATURES or target in _TEMPERATURES:
        result = _convert_temperature(value, source, target)
    else:
        result = _convert_proportional(value, source, target)
    return f"{value:g} {from_unit.strip()} = {result:.6g} {to_unit.strip()}"


def _convert_proportional(value: float, source: str, target: str) -> float:
    for unit in (source, target):
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r}; see the tool's description for the units it knows")
    (quantity, factor), (target_quantity, target_factor) = _UNITS[source], _UNITS[target]
    if quantity != target_quantity:
        raise ValueError(f"cannot convert {quantity} ({source}) to {target_quantity} ({target})")
    return value * factor / target_factor


def _convert_temperature(value: float, source: str, target: str) -> float:
    for unit in (source, target):
        if unit not in _TEMPERATURES:
            raise ValueError(f"cannot convert between a temperature and {unit!r}")
    offset, factor = _TEMPERATURES[source]
    kelvin = (value + offset) * factor
    if kelvin < 0:
        raise ValueError(f"{value:g} {source.upper()} is below absolute zero")
    target_offset, target_factor = _TEMPERATURES[target]
    return kelvin / target_factor - target_offset
