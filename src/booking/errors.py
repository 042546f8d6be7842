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


class NotForSale(DomainError):
    """A night of the stay is not on sale: no rate set, stop-sell, or never opened by the owner (409).
    ``extra["night"]`` names the first such night."""

    status = 409
    code = "not_for_sale"
    title = N_("Not for sale on these dates")


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


class CalendarNotFound(DomainError):
    """No active room type has this iCal export secret (404): a wrong, rotated or retired URL looks alike."""

    status = 404
    code = "calendar_not_found"
    title = N_("Calendar not found")


class ChannelCalendarExists(DomainError):
    """The room type already imports a channel calendar from this URL (409)."""

    status = 409
    code = "channel_calendar_exists"
    title = N_("This calendar is already imported")


class InvalidFeed(DomainError):
    """The channel's feed is not an iCalendar (RFC 5545) we can read: malformed, too large, too many nights, or
    an event whose dates cannot be read (422). Nothing was changed: the blocks of the previous import stay."""

    status = 422
    code = "invalid_feed"
    title = N_("Invalid calendar feed")


class FeedUrlRefused(DomainError):
    """The feed URL is not an ``http``/``https`` URL of a public host (it names, or resolves to, a private,
    loopback or link-local address, or redirects to one, or redirects too often) (422)."""

    status = 422
    code = "feed_url_refused"
    title = N_("Calendar address not allowed")


class FeedUnavailable(DomainError):
    """The channel's server could not be reached or did not answer 200/304 (424 Failed Dependency, RFC 4918
    §11.4: the request failed because of another resource). Not a 5xx: nothing in this service failed, and 5xx
    answers are kept for our own bugs (ARCHITECTURE.md example 7). Nothing was changed; the next sync tries again."""

    status = 424
    code = "feed_unavailable"
    title = N_("Calendar feed could not be fetched")
