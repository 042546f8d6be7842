"""How the catalogue service is provided to controllers."""

from litestar.di import NamedDependency

from src.guide.service import CatalogueService
from src.kernel.db import Reader


async def provide_catalogue_service(
    reader: NamedDependency[Reader], response_locale: NamedDependency[str]
) -> CatalogueService:
    """A ``CatalogueService`` bound to the request's reader (no ORM session) and negotiated locale."""
    return CatalogueService(reader, response_locale)
