"""memberlens: member data analytics for precision marketing (会员数据分析驱动的精准营销)."""

from memberlens.exceptions import MemberlensError

__version__ = "0.1.0"

__all__ = ["MemberlensError", "__version__"]
