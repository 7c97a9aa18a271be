"""First-party plugins.

Each subpackage is an ordinary plugin, found through the ``cms`` entry-point
group declared in ``pyproject.toml``, exactly as a third-party package would be.
"""
