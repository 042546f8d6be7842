"""Whether a party fits a room type: the occupancy rule of availability search and of every booking.

A party of ``adults`` and ``children`` in ``rooms`` rooms of one room type fits when it can be spread over the rooms
so that each room has at least one adult and stays within the room type's limits: ``max_adults`` adults,
``max_children`` children and ``max_occupancy`` guests in all per room. With identical rooms this is exactly
``rooms <= adults <= rooms × max_adults``, ``children <= rooms × max_children`` and
``adults + children <= rooms × max_occupancy`` (fill rooms greedily; every bound is per room and additive).
"""

#: Most rooms one reservation takes (a larger group books twice or calls the property).
MAX_ROOMS = 10
#: Bounds of a party in one request (well above any room type's capacity times ``MAX_ROOMS``).
MAX_ADULTS = 60
MAX_CHILDREN = 40


def party_fits(
    adults: int, children: int, rooms: int, *, max_adults: int, max_children: int, max_occupancy: int
) -> bool:
    """True when ``adults`` adults and ``children`` children fit in ``rooms`` rooms of a room type with these
    per-room limits (see the module docstring)."""
    if rooms < 1 or adults < rooms or children < 0:
        return False
    return (
        adults <= rooms * max_adults and children <= rooms * max_children and adults + children <= rooms * max_occupancy
    )
