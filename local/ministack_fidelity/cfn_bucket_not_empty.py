"""CloudFormation cannot delete a bucket that still holds anything: DELETE_FAILED, as on AWS.

AWS::S3::Bucket, CloudFormation template reference
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html):
"You can only delete empty buckets. Deletion fails for buckets that have contents." S3
DeleteBucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html):
"All objects (including all object versions and delete markers) in the bucket must be
deleted before the bucket itself can be deleted"; it answers 409 BucketNotEmpty "The
bucket you tried to delete is not empty", and the resource's status reason is that
message with the SDK's suffix, e.g. ``The bucket you tried to delete is not empty
(Service: Amazon S3; Status Code: 409; Error Code: BucketNotEmpty; Request ID: ...; S3
Extended Request ID: ...; Proxy: null)``.

MiniStack 1.5.33's provisioner (``provisioners._s3_delete``) drops the bucket with its
objects and versions, and the stack ends DELETE_COMPLETE. Patched: the AWS::S3::Bucket
delete handler raises that reason while the bucket holds an object, a version or a delete
marker (what S3 DeleteBucket itself checks, ``s3._delete_bucket``). MiniStack's engine
already does the rest as AWS does: DeleteStack marks the resource DELETE_FAILED, deletes
the other resources and ends the stack DELETE_FAILED ("The following resource(s) failed
to delete: [...]"); a later DeleteStack, once the bucket is empty, deletes it.

A bucket removed by a stack update (or replaced) is handled by MiniStack's cleanup path,
left as it is: the resource's DELETE_FAILED event with this reason, the stack still ends
UPDATE_COMPLETE, and the bucket keeps existing (MiniStack keeps it in the stack's
resources as DELETE_FAILED, so the stack's own delete tries it again). The IDs in the
reason are random: AWS's are not reproducible either.
"""

from __future__ import annotations

import base64
import os
import secrets
from typing import Any

from ._patching import Expectation, refuse

EXPECTED = {
    "_s3_delete": Expectation(("physical_id", "props"), "52bcaf59bd5bbc39"),
    "_s3._bucket_has_versions": Expectation(("name",), "5d9c3498be681a6f"),
}
BUCKET = "AWS::S3::Bucket"
MESSAGE = "The bucket you tried to delete is not empty"


def not_empty_reason(request_id: str, extended_request_id: str) -> str:
    """The resource status reason of a refused delete, as the S3 SDK words it."""
    return (
        f"{MESSAGE} (Service: Amazon S3; Status Code: 409; Error Code: BucketNotEmpty; "
        f"Request ID: {request_id}; S3 Extended Request ID: {extended_request_id}; "
        "Proxy: null)"
    )


def holds_anything(bucket: Any, has_versions: bool) -> bool:
    """Whether DeleteBucket would refuse: a current object, or any version or delete
    marker left (a bucket record that is gone holds nothing)."""
    objects = bucket.get("objects") if isinstance(bucket, dict) else None
    return bool(objects) or has_versions


class BucketNotEmpty(ValueError):
    """The delete handler's failure: its text is the resource's status reason."""


def install(provisioners: Any) -> None:
    handlers = provisioners._RESOURCE_HANDLERS[BUCKET]
    original = handlers["delete"]
    if original is not provisioners._s3_delete:
        refuse(f"MiniStack's {BUCKET} delete handler is not _s3_delete.")
    s3 = provisioners._s3

    def delete(physical_id: Any, props: Any) -> Any:
        if holds_anything(s3._buckets.get(physical_id), s3._bucket_has_versions(physical_id)):
            extended = base64.b64encode(os.urandom(57)).decode()
            raise BucketNotEmpty(not_empty_reason(secrets.token_hex(8).upper(), extended))
        return original(physical_id, props)

    handlers["delete"] = delete
