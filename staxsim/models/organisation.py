"""The simulated organisation and the ApiAuth config that ``/public/config`` serves.

The SDK reads ``ApiAuth`` (Cognito region, user pool, client, identity pool) from
``GET /public/config`` before it logs in; until the control API sets it the simulator
answers that call 503. The organisation (``Id``, ``Name``, ``CustomerId``) is what
every record's ``OrganisationId`` and the events' ``CustomerId`` name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from staxsim.document import StaxDocument
from staxsim.exceptions import BadRequest, NotConfigured
from staxsim.models.common import DEFAULT_CUSTOMER_ID, DEFAULT_ORG_ID

_REQUIRED_AUTH = ("region", "userPoolId", "userPoolWebClientId", "identityPoolId")


def default_organisation() -> dict[str, Any]:
    """The organisation before any seed."""
    return {
        "Id": DEFAULT_ORG_ID,
        "Name": "simulated-organisation",
        "CustomerId": DEFAULT_CUSTOMER_ID,
    }


def build_public_config(api_auth: Mapping[str, Any], api_base_url: str) -> dict[str, Any]:
    """A complete ``public.ReadConfig`` body around the configured ApiAuth values.

    The document makes every section required (``Auth``, ``JumaAuth``, ``ApiAuth``,
    ``Analytics``, ``API``, ``AppSync``, ``Juma``, ``Sentry``, ``Features``) with
    ``additionalProperties: false``; the SDK only reads ``ApiAuth``.
    """
    region = api_auth["region"]
    auth = {
        "region": region,
        "userPoolId": api_auth["userPoolId"],
        "userPoolWebClientId": api_auth["userPoolWebClientId"],
        "identityPoolId": api_auth["identityPoolId"],
        "mandatorySignIn": bool(api_auth.get("mandatorySignIn", True)),
    }
    host = api_base_url.split("://", 1)[-1].split("/", 1)[0]
    return {
        "ApiAuth": dict(auth),
        "Auth": dict(auth),
        "JumaAuth": {**auth, "identityPoolIdV2": api_auth["identityPoolId"]},
        "Analytics": {"disable": True},
        "API": {"endpoints": [{"name": "core", "endpoint": api_base_url, "region": region}]},
        "AppSync": {
            "core": {"region": region, "endpoint": f"https://{host}/graphql"},
            "analytics": {"region": region, "endpoint": f"https://{host}/graphql"},
            "region": region,
            "graphqlEndpoint": f"https://{host}/graphql",
        },
        "Juma": {
            "fullDomainName": host,
            "domainName": host.split(":", 1)[0],
            "stage": "simulator",
            "controlplaneRegion": region,
            "masterAccountId": 0,
        },
        "Sentry": {"dsn": "", "projectName": "stax-simulator"},
        "Features": [],
    }


class OrganisationBackend:
    """The organisation record and the ApiAuth config (the lock is ``SimState``'s)."""

    def __init__(self, document: StaxDocument) -> None:
        self._document = document
        self.organisation: dict[str, Any] = default_organisation()
        self.api_auth: dict[str, Any] | None = None

    def clear(self) -> None:
        """Back to the default organisation (the ApiAuth config stays)."""
        self.organisation = default_organisation()

    def configure(self, api_auth: Mapping[str, Any]) -> dict[str, Any]:
        """Set the ApiAuth values served by ``/public/config`` (validated by the doc)."""
        missing = [k for k in _REQUIRED_AUTH if not api_auth.get(k)]
        if missing:
            raise BadRequest(f"api_auth.{missing[0]}: is required")
        value = {key: api_auth[key] for key in _REQUIRED_AUTH}
        value["mandatorySignIn"] = bool(api_auth.get("mandatorySignIn", True))
        probe = build_public_config(value, "https://127.0.0.1/20190206")
        error = self._document.component_validator("public.ReadConfig").first_error(probe)
        if error:
            raise BadRequest(f"api_auth: {error}")
        self.api_auth = value
        return dict(value)

    def public_config(self, api_base_url: str) -> dict[str, Any]:
        """The ``public.ReadConfig`` body; :class:`NotConfigured` before configuration."""
        if self.api_auth is None:
            raise NotConfigured("The simulator has no ApiAuth configuration yet: PUT /_sim/config")
        return build_public_config(self.api_auth, api_base_url)

    @property
    def region(self) -> str | None:
        """The configured ApiAuth region (the SigV4 credential scope must name it)."""
        return self.api_auth["region"] if self.api_auth else None
