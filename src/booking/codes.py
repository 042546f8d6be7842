"""Reservation codes: short, human-friendly references a guest reads out at the desk and writes in a bank-transfer
memo: ``LC`` and six characters of Crockford's Base32 alphabet (digits and capitals without I, L, O and U, so they
cannot be misread as 1, 0 or each other), e.g. ``LC7K2P9Q``. 32⁶ ≈ 1.07 × 10⁹ codes; a collision is retried.
Reading a code is forgiving: case, spaces, hyphens, a missing ``LC`` and the look-alikes Crockford maps
(``O``→``0``, ``I``/``L``→``1``) are normalised.
"""

import re
import secrets

PREFIX = "LC"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's Base32
LENGTH = 6
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE = re.compile(rf"^{PREFIX}[{ALPHABET}]{{{LENGTH}}}$")


def new_code() -> str:
    """A random code (``secrets``: not guessable from earlier codes)."""
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """The canonical code written in ``text`` (``"lc 7k2p-9q"`` → ``"LC7K2P9Q"``), or ``None`` if it is none."""
    compact = re.sub(r"[\s\-_.]", "", text).upper()
    if compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    candidate = PREFIX + compact.translate(_LOOK_ALIKES)
    return candidate if _CODE.match(candidate) else None
