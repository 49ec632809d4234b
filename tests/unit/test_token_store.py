"""stax-orchestrator setup's write: both token parameters, or the old token left whole."""

from __future__ import annotations

from typing import Any

import pytest

from stax_orchestrator.token_store import TokenParameters, TokenStoreError, store_token

NAMES = TokenParameters("/team/stax/id", "/team/stax/secret")


@pytest.fixture()
def ssm(aws: Any) -> Any:
    return aws.client("ssm")


def _value(ssm: Any, name: str) -> str:
    return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def test_both_parameters_are_secure_strings_under_the_given_key(aws: Any, ssm: Any) -> None:
    key = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    assert store_token(ssm, NAMES, "AKEY", "s3cret-1A!", key) == [NAMES.secret, NAMES.access_key]
    assert _value(ssm, NAMES.access_key) == "AKEY" and _value(ssm, NAMES.secret) == "s3cret-1A!"
    described = ssm.describe_parameters()["Parameters"]
    assert {p["Type"] for p in described} == {"SecureString"}
    assert {p["KeyId"] for p in described} == {key}


class _FailingAccessKey:
    """SSM where writing the access key fails (as a denied or throttled call would)."""

    def __init__(self, ssm: Any) -> None:
        self.ssm = ssm

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ssm, name)

    def put_parameter(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        if kwargs["Name"] == NAMES.access_key:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Put")
        return self.ssm.put_parameter(**kwargs)


def test_a_failed_access_key_write_puts_the_old_secret_back(ssm: Any) -> None:
    store_token(ssm, NAMES, "OLDKEY", "old-secret-1A!")
    with pytest.raises(TokenStoreError, match="the old token is whole") as raised:
        store_token(_FailingAccessKey(ssm), NAMES, "NEWKEY", "new-secret-1A!")
    assert "new-secret" not in str(raised.value) and "NEWKEY" not in str(raised.value)
    assert _value(ssm, NAMES.secret) == "old-secret-1A!"
    assert _value(ssm, NAMES.access_key) == "OLDKEY"


def test_a_failed_first_store_leaves_no_half_token(ssm: Any) -> None:
    with pytest.raises(TokenStoreError):
        store_token(_FailingAccessKey(ssm), NAMES, "NEWKEY", "new-secret-1A!")
    assert ssm.describe_parameters()["Parameters"] == []
