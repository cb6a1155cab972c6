"""Acting on what memberlens knows: audiences (saved member filters), and campaigns on them.

See :mod:`memberlens.activation.audiences` for the audience API and ``docs/activation.md``.
"""
