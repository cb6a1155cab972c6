"""Event weights of implicit feedback: a purchase counts most, then cart, favourite, click,
view (kept apart from the engine code so that fitting a model does not import Ibis)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

from memberlens.exceptions import ConfigError

__all__ = ["DEFAULT_WEIGHTS", "check_weights"]

#: Weight of one purchase day and of one event of each type (orders > cart > favourite >
#: click / share > view). ``search`` has no product and is not counted.
DEFAULT_WEIGHTS: dict[str, float] = {
    "order": 10.0,
    "cart": 4.0,
    "favorite": 3.0,
    "click": 2.0,
    "share": 2.0,
    "view": 1.0,
}


def check_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """The weights as a plain dict, validated: an ``order`` weight and non-negative numbers."""
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, Mapping) or not weights:
        raise ConfigError(
            f"weights: must be a mapping event_type -> weight such as "
            f"{DEFAULT_WEIGHTS}; got {weights!r}"
        )
    out = {}
    for key, value in weights.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or value < 0
            or value != value
        ):
            raise ConfigError(f"weights[{key!r}]: must be a number >= 0, got {value!r}")
        out[str(key)] = float(value)
    if out.get("order", 0) <= 0:
        raise ConfigError(
            f"weights: needs a positive 'order' weight (a purchase must count); got {weights!r}"
        )
    return out
