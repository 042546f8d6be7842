"""Errors of booking, each with its HTTP meaning (ARCHITECTURE.md example 7)."""

from src.kernel.errors import DomainError
from src.kernel.i18n import N_


class PropertyNotFound(DomainError):
    """No listed property with this id (or not yours, for an owner) (404)."""

    status = 404
    code = "property_not_found"
    title = N_("Property not found")


class RoomTypeNotFound(DomainError):
    """No active room type with this id in this property (404)."""

    status = 404
    code = "room_type_not_found"
    title = N_("Room type not found")


class ReservationNotFound(DomainError):
    """No reservation with this code that the caller may see (404: a wrong token and a wrong code look alike)."""

    status = 404
    code = "reservation_not_found"
    title = N_("Reservation not found")


class SoldOut(DomainError):
    """At least one night of the stay has fewer rooms left than asked, or is not for sale (409). ``extra["night"]``
    names the first such night."""

    status = 409
    code = "sold_out"
    title = N_("Sold out")


class StayRestricted(DomainError):
    """The stay breaks a restriction of the calendar: minimum stay, closed to arrival or to departure (409)."""

    status = 409
    code = "stay_restricted"
    title = N_("Stay not allowed on these dates")


class PartyTooLarge(DomainError):
    """The room type cannot host the party (adults, children or total per room) (422)."""

    status = 422
    code = "party_too_large"
    title = N_("Too many guests for this room")


class InvalidTransition(DomainError):
    """The reservation's status does not allow this action (e.g. check-in of a cancelled reservation) (409)."""

    status = 409
    code = "invalid_transition"
    title = N_("Not possible in the reservation's current status")


class HoldExpired(DomainError):
    """The hold lapsed before the action could complete (410)."""

    status = 410
    code = "hold_expired"
    title = N_("Hold expired")


class AllotmentBelowSold(DomainError):
    """An owner tried to offer fewer rooms on a night than are already sold there (409)."""

    status = 409
    code = "allotment_below_sold"
    title = N_("Fewer rooms than already sold")
