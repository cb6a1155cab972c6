"""The read side: what the marts answer (member lists, labels), in one vocabulary for the CLI,
the API and exports.

:mod:`memberlens.marts.vocabulary` names every mart column, segment, tier and stage in the
project's language and says what model terms mean in one line; money is shown with the project's
currency.
"""

from memberlens.marts.vocabulary import (
    column_label,
    gloss,
    money,
    segment_label,
    stage_label,
    tier_label,
)

__all__ = ["column_label", "gloss", "money", "segment_label", "stage_label", "tier_label"]
