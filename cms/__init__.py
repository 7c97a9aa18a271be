"""Clinic CMS: a headless CMS for clinic groups.

Nothing is loaded at import time; :func:`cms.app.create_app` builds the app.
"""

__version__ = "0.1.0"
