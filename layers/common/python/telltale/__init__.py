"""Telltale's shared package: the Common Lambda layer.

Everything here is imported by the Lambda handlers in ``functions/`` and by the local stack.
Modules import their heavy dependencies lazily so that a handler pays only for what its route uses.
"""
