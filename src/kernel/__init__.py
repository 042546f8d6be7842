"""What every domain shares: settings, database, errors, i18n, caching, middleware, auth, jobs, rate limits.

Nothing here imports a domain (``src.guide``, ``src.booking``, ``src.payments``, ``src.search``).
"""
