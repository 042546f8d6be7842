"""How the search service is provided to controllers."""

from litestar.datastructures import State
from litestar.di import NamedDependency

from src.search.service import SearchService


async def provide_search_service(state: State, response_locale: NamedDependency[str]) -> SearchService:
    """A ``SearchService`` over the process's engine (``state.search_engine``) in the negotiated locale, with the
    read path (to check a ``commune`` filter), the search log (``state.search_log``) and the process's result
    cache (``state.search_cache``). Opens nothing: the
    engine is shared by the process, and a reader is taken only when a commune filter needs checking."""
    return SearchService(
        state.search_engine,
        response_locale,
        read_path=state.read_path,
        log=state.get("search_log"),
        cache=state.get("search_cache"),
    )
