"""How the catalogue service is provided to controllers."""

from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide.service import CatalogueService


async def provide_catalogue_service(session: AsyncSession, locale: str) -> CatalogueService:
    """A ``CatalogueService`` bound to the request's session and negotiated locale."""
    return CatalogueService(session, locale)
