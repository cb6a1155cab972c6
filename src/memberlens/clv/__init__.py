"""Lifetime value models: who is still active, how often they will buy, what they will spend.

Purchase models (maximum likelihood on counts of identical summary rows):
:class:`BetaGeoModel` (BG/NBD), :class:`ModifiedBetaGeoModel` (MBG/NBD),
:class:`ParetoNBDModel` (Pareto/NBD), :class:`BetaGeoBetaBinomModel` (BG/BB, discrete periods),
:class:`ModifiedBetaGeoCNBDModel` (MBG/CNBD-k, regular purchase timing); which one fits a shop:
:func:`choose_purchase_model`; is a fit usable: :mod:`memberlens.clv.diagnostics`; the
pipeline's value step: :mod:`memberlens.clv.valuation`.
Spend model: :class:`GammaGammaModel`. Value: :func:`customer_lifetime_value`.
Model checking against a holdout period: :mod:`memberlens.clv.checking`; plots:
:mod:`memberlens.clv.plotting`; simulators of the generative processes:
:mod:`memberlens.clv.simulation`.
"""

from memberlens.clv.beta_geo import BetaGeoModel, ModifiedBetaGeoModel
from memberlens.clv.beta_geo_beta_binom import BetaGeoBetaBinomModel
from memberlens.clv.beta_geo_cnbd import ModifiedBetaGeoCNBDModel
from memberlens.clv.gamma_gamma import (
    GammaGammaModel,
    IndependenceCheck,
    spend_frequency_independence,
)
from memberlens.clv.pareto_nbd import ParetoNBDModel
from memberlens.clv.selection import ModelChoice, choose_purchase_model
from memberlens.clv.value import customer_lifetime_value

__all__ = [
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "GammaGammaModel",
    "IndependenceCheck",
    "ModelChoice",
    "ModifiedBetaGeoCNBDModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "choose_purchase_model",
    "customer_lifetime_value",
    "spend_frequency_independence",
]
