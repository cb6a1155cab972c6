"""The steps of ``memberlens run``, one module per concept; their order is
:data:`memberlens.pipeline.registry.STEPS`."""
