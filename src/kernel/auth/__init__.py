"""Accounts, roles and authorisation shared by every domain.

Domains use: ``Identity`` (``request.user`` / the ``identity`` dependency), ``requires_role`` guards,
``ensure_owned`` (404 for what is not yours), ``OPTIONAL_AUTH`` for routes open to guests and users, and the guest
lookup tokens ``issue_lookup_token`` / ``verify_lookup_token``.
"""
