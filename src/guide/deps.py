"""How the catalogue service is provided to controllers."""

from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide.service import CatalogueService


async def provide_catalogue_service(
    session: NamedDependency[AsyncSession], response_locale: NamedDependency[str]
) -> CatalogueService:
    """A ``CatalogueService`` bound to the request's session and negotiated locale."""
    return CatalogueService(session, response_locale)
