"""Which search engine a process uses, from its settings (one place, so the server, the worker and the CLI agree).

``LAOCAI_MEILI_URL`` set: Meilisearch (production) at that URL with ``LAOCAI_MEILI_KEY``, index
``LAOCAI_MEILI_INDEX`` and ``LAOCAI_MEILI_TIMEOUT_SECONDS`` per call. Otherwise the embedded tantivy index under
``<LAOCAI_DATA_DIR>/search``, whose readers look for other processes' commits every
``LAOCAI_SEARCH_RELOAD_SECONDS``. Each adapter is imported only when chosen, so a process never loads the other
engine's library.
"""

import importlib
from typing import Any

from src.kernel.config import Settings
from src.search.port import SearchEngine


def build_engine(settings: Settings) -> SearchEngine:
    """The engine ``settings`` select. Connects or opens nothing yet (the first call does), so building it never
    fails because the engine is down."""
    if settings.meili_url:
        # Imported by name until the adapter lands on this branch (mypy would refuse a missing module).
        meili: Any = importlib.import_module("src.search.meili_engine")
        engine: SearchEngine = meili.MeiliEngine(
            settings.meili_url,
            settings.meili_key.get_secret_value() or None,  # no key: an unprotected server
            settings.meili_index,
            settings.meili_timeout_seconds,
        )
        return engine
    from src.search.tantivy_engine import TantivyEngine

    return TantivyEngine(settings.search_dir, reload_seconds=settings.search_reload_seconds)


__all__ = ["build_engine"]
