"""OAuth2 client-credentials authentication for vendor clients.

One access token is shared by every request of a client (and every thread):
it is fetched on first use, reused until shortly before it expires, and
fetched again when it has expired or when the API answers 401 anyway (the
vendor revoked it, or clocks disagree). The rejected request is then sent
again with the new token (a few times at most), so the page in hand is not lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from pipelines.http import Redactor, VendorAuthError, VendorClient, VendorHTTPError

UNAUTHORIZED = 401
# Token endpoints answer 400 (RFC 6749 §5.2) or 401 for rejected client credentials.
REJECTED_CREDENTIAL_STATUSES = frozenset({400, 401})
DEFAULT_EXPIRES_IN = 3600.0
# A fresh token rejected again means it was revoked again meanwhile (a bad
# credential fails at the token endpoint, not here): renew a few times, not forever.
RENEWALS_ON_401 = 3
# Renew this long before the announced expiry, so no request leaves with a token
# about to lapse; a tenth of the lifetime for short-lived tokens.
RENEW_MARGIN_SECONDS = 60.0
RENEW_MARGIN_SHARE = 0.1


class ClientCredentials(httpx.Auth):
    """Bearer auth from an OAuth2 token endpoint (``grant_type=client_credentials``).

    ``token_client`` sends the token request (with its retries for transient
    failures); every token granted is added to ``redactors`` so that it never
    appears in an error or a log line.
    """

    requires_response_body = False

    def __init__(
        self,
        token_client: VendorClient,
        token_path: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_client = token_client
        self._token_path = token_path
        self._form = {"client_id": client_id, "client_secret": client_secret,
                      "grant_type": "client_credentials"}
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.redactors: list[Redactor] = [token_client.redactor]
        token_client.redactor.add(client_secret)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.current_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        for _ in range(RENEWALS_ON_401):
            if response.status_code != UNAUTHORIZED:
                return
            token = self.renew(rejected=token)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request

    def current_token(self) -> str:
        """The token in use, fetching a new one when there is none or it is about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def renew(self, rejected: str) -> str:
        """A token other than ``rejected``; concurrent callers share one new token."""
        with self._lock:
            if self._token == rejected or self._token is None:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        client, path = self._token_client, self._token_path
        try:
            # A token answer cut short is asked for again, like any other body that does not parse.
            payload = client.request_json("POST", path, data=self._form, quote_body=False)
        except VendorHTTPError as error:
            if error.status not in REJECTED_CREDENTIAL_STATUSES:
                raise
            detail = f"client credentials rejected; check client_id and client_secret ({error.detail})"
            raise VendorAuthError(error.vendor, error.endpoint, detail, status=error.status) from None
        token, expires_in = self._parse(payload)
        for redactor in self.redactors:
            redactor.add(token)
        lifetime = max(0.0, expires_in)
        margin = min(RENEW_MARGIN_SECONDS, lifetime * RENEW_MARGIN_SHARE)
        self._token, self._renew_at = token, self._clock() + lifetime - margin

    def _parse(self, payload: Any) -> tuple[str, float]:
        client, path = self._token_client, self._token_path
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise client.response_error(path, "token response has no 'access_token'", method="POST")
        try:
            expires_in = float(payload.get("expires_in", DEFAULT_EXPIRES_IN))
        except (TypeError, ValueError):
            raise client.response_error(
                path, "token response has a non-numeric 'expires_in'", method="POST") from None
        return token, expires_in

