"""One module per fault kind; this table is what the schema, the nemesis and the docs read.

A module of this package that exports ``FAULT`` (a :class:`~.base.FaultKind`) is a
fault kind: adding one means adding one module. ``fluxchaos faults`` prints the table.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Confirmation, FaultContext, FaultKind, as_detail, action_controller, env_leader, env_pods


def _discover() -> dict[str, FaultKind]:
    table: dict[str, FaultKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        fault = getattr(module, "FAULT", None)
        if isinstance(fault, FaultKind):
            if fault.name in table:
                raise RuntimeError(f"two fault modules define {fault.name!r}")
            table[fault.name] = fault
    return table


FAULTS: dict[str, FaultKind] = _discover()


def get(name: str) -> FaultKind:
    try:
        return FAULTS[name]
    except KeyError:
        raise ValueError(f"unknown fault kind {name!r}; expected one of {', '.join(sorted(FAULTS))}") from None


__all__ = ["FAULTS", "Confirmation", "FaultContext", "FaultKind", "as_detail", "action_controller", "env_leader",
           "env_pods", "get"]
