"""A simulated Chinese e-commerce shop with known ground truth (``memberlens simulate``).

>>> from memberlens.simulate import simulate_shop
>>> report = simulate_shop("shop", members=2_000, seed=1)       # doctest: +SKIP
>>> report.rows["orders"]                                        # doctest: +SKIP

See ``docs/simulator.md`` for what is simulated and the files in ``truth/``.
"""

from memberlens.simulate.parameters import ShopParameters
from memberlens.simulate.shop import BLOCK_MEMBERS, SimulationReport, simulate_shop

__all__ = ["BLOCK_MEMBERS", "ShopParameters", "SimulationReport", "simulate_shop"]
