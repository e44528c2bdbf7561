"""Token authentication that checks the key's form before asking the database."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import authentication, exceptions

# DRF keys are 40 hex digits; anything else cannot match, and a NUL byte in it would make
# PostgreSQL raise (a 500) instead of simply finding no token.
# Applied with fullmatch: "$" would also let a trailing newline through.
_KEY_RE = re.compile(r"[0-9a-fA-F]{1,64}")


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not _KEY_RE.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
