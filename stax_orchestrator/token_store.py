"""Store the Stax API token in a stage's SSM SecureString parameters, all or nothing.

Role: ``stax-orchestrator setup``'s write. The secret is written first, then the access
key; if the access key cannot be written, the secret written a moment before is put back
as it was (or removed, if there was none), so a failure never leaves a new secret beside
an old access key. Neither value is ever printed or put in an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class TokenStoreError(Exception):
    """The token could not be stored; the message says what is left and what to do."""


@dataclass(frozen=True)
class TokenParameters:
    access_key: str
    secret: str


def _current(ssm: Any, name: str) -> tuple[str, str | None] | None:
    """(value, key id) of an existing SecureString, or None."""
    from botocore.exceptions import ClientError

    try:
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
    ).get("Parameters", [])
    return str(value), (described[0].get("KeyId") if described else None)


def _put(ssm: Any, name: str, value: str, key_id: str | None) -> None:
    extra = {"KeyId": key_id} if key_id else {}
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True, **extra)


def store_token(
    ssm: Any, names: TokenParameters, access_key: str, secret: str, key_id: str | None = None
) -> list[str]:
    """Write both parameters (secret first); returns the names written.

    Raises:
        TokenStoreError: a write failed; the message says the old token is whole (or, if
            even the rollback failed, which parameter to check).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        before = _current(ssm, names.secret)
        _put(ssm, names.secret, secret, key_id)
    except (ClientError, BotoCoreError) as error:
        raise TokenStoreError(
            f"could not write {names.secret} ({type(error).__name__}); nothing was changed"
        ) from None
    try:
        _put(ssm, names.access_key, access_key, key_id)
    except (ClientError, BotoCoreError) as error:
        reason = type(error).__name__
        try:
            if before is None:
                ssm.delete_parameter(Name=names.secret)
            else:
                _put(ssm, names.secret, before[0], before[1])
        except (ClientError, BotoCoreError):
            raise TokenStoreError(
                f"could not write {names.access_key} ({reason}), and putting {names.secret} "
                "back failed too: run setup again before the next operation"
            ) from None
        raise TokenStoreError(
            f"could not write {names.access_key} ({reason}); {names.secret} was put back, "
            "the old token is whole"
        ) from None
    return [names.secret, names.access_key]
