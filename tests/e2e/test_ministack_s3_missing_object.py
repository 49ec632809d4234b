"""The local stack answers a missing object as AWS does: 404 only to a caller that may list.

On the launched MiniStack (``AUTH=true``, ``local/ministack_fidelity/s3_missing_object.py``)
an IAM user created here may ``s3:GetObject`` under one prefix: reading a key that does not
exist is ``AccessDenied`` (403), reading one that exists works; once the user may
``s3:ListBucket`` for exactly that key (the ``s3:prefix`` condition the product's baseline
functions carry), the same read is ``NoSuchKey`` (404). The account's root keys always get
404. Then MiniStack's own, unpatched S3 is shown answering 404 to everyone.

Like ``test_ministack_limits.py``, these tests need only MiniStack
(``tests.e2e.ministack_support``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.e2e.ministack_support import (
    IamUser,
    client,
    require_auth,
    require_ministack,
    run_unpatched_script,
)

pytestmark = pytest.mark.e2e

KEY = "baselines/baselines.yaml"

#: MiniStack's own S3, unpatched, answers a missing key (no caller is evaluated there).
UNPATCHED = r"""
import json, sys
from ministack.services import s3

request = json.load(sys.stdin)
s3._create_bucket(request["bucket"], b"", {})
status, _, body = s3._get_object(request["bucket"], request["key"], {}, {})
print(json.dumps({"status": status, "no_such_key": b"NoSuchKey" in body}))
"""


class Reader:
    """An IAM user allowed ``s3:GetObject`` under ``baselines/`` of a bucket made here."""

    def __init__(self) -> None:
        self.bucket = f"missing-object-{uuid.uuid4().hex[:8]}"
        self.root_s3 = client("s3")
        self.root_s3.create_bucket(Bucket=self.bucket)
        self.root_s3.put_object(Bucket=self.bucket, Key="baselines/present.yaml", Body=b"x")
        self.statements = [
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{self.bucket}/baselines/*"}
        ]  # fmt: skip
        self.user = IamUser(self.bucket, self.statements)
        self.s3 = self.user.client("s3")

    def may_list(self, prefix: str) -> None:
        self.statements.append(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{self.bucket}",
             "Condition": {"StringEquals": {"s3:prefix": prefix}}}
        )  # fmt: skip
        self.user.allow(self.statements)

    def close(self) -> None:
        self.user.close()
        self.root_s3.delete_object(Bucket=self.bucket, Key="baselines/present.yaml")
        self.root_s3.delete_bucket(Bucket=self.bucket)


@pytest.fixture()
def reader() -> Iterator[Reader]:
    require_auth()
    made = Reader()
    yield made
    made.close()


def error_of(call: object, **kwargs: str) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)  # type: ignore[operator]
    error = raised.value.response
    return str(error["Error"]["Code"]), int(error["ResponseMetadata"]["HTTPStatusCode"])


def test_a_missing_object_is_access_denied_to_a_caller_that_may_not_list(reader: Reader) -> None:
    assert (
        reader.s3.get_object(Bucket=reader.bucket, Key="baselines/present.yaml")["Body"].read()
        == b"x"
    )
    assert error_of(reader.s3.get_object, Bucket=reader.bucket, Key=KEY) == ("AccessDenied", 403)
    assert error_of(reader.s3.head_object, Bucket=reader.bucket, Key=KEY)[1] == 403
    # Listing another prefix does not tell this key is missing.
    reader.may_list("other/")
    assert error_of(reader.s3.get_object, Bucket=reader.bucket, Key=KEY) == ("AccessDenied", 403)


def test_listing_the_key_makes_it_no_such_key_and_root_always_sees_404(reader: Reader) -> None:
    reader.may_list(KEY)
    assert error_of(reader.s3.get_object, Bucket=reader.bucket, Key=KEY) == ("NoSuchKey", 404)
    assert error_of(reader.s3.head_object, Bucket=reader.bucket, Key=KEY)[1] == 404
    assert error_of(reader.root_s3.get_object, Bucket=reader.bucket, Key="baselines/none") == (
        "NoSuchKey",
        404,
    )


def test_ministack_alone_answers_no_such_key() -> None:
    require_ministack()
    answer = run_unpatched_script(UNPATCHED, {"bucket": "unpatched-bucket", "key": KEY})
    assert answer == {"status": 404, "no_such_key": True}
