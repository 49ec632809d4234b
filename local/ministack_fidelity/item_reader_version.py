"""A Distributed Map's ItemReader reads the object version it names, as on AWS.

AWS (Step Functions Developer Guide, "ItemReader (Map)"): an ``arn:aws:states:::s3:getObject``
reader's ``Parameters`` take ``Bucket``, ``Key`` and ``VersionId``; with a ``VersionId`` the
Map reads that version of the object, whatever was written after it, and a version that
no longer exists fails the Map (``States.ItemReaderFailed``). Reading a version is
``s3:GetObjectVersion`` (S3 API reference, GetObject, "Permissions": "you need the
s3:GetObjectVersion permission to access a specific version of an object").
MiniStack 1.5.33 ignores ``VersionId`` and reads the latest version: a fleet that pins its
plan would run a replaced plan locally and not on AWS.

Patched: ``_read_map_items`` resolves the reader's parameters and keeps their
``VersionId`` for this read (:data:`VERSION`); ``_s3_object_text`` then reads that version
(MiniStack's own versioned ``GetObject``) or fails with ``States.ItemReaderFailed``.
``sfn_role_permissions`` checks ``s3:GetObjectVersion`` instead of ``s3:GetObject`` while a
version is being read.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

EXPECTED = {
    "_read_map_items": Expectation(("reader", "effective", "ctx"), "b846851544b897fa"),
    "_s3_object_text": Expectation(("bucket", "key"), "9351030b682220e3"),
    "_resolve_params_obj": Expectation(("template", "data", "ctx"), "d41c2e27dd1b00a5"),
}

#: The ``VersionId`` the ItemReader being read names (None: the latest version).
VERSION: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ministack_item_reader_version", default=None
)


def install(sf: Any) -> None:
    def pinned(original: Callable[..., Any]) -> Callable[..., Any]:
        def read_map_items(reader: Any, effective: Any, ctx: Any) -> Any:
            template = (reader or {}).get("Parameters") or (reader or {}).get("Arguments") or {}
            params = sf._resolve_params_obj(template, effective, ctx) or {}
            version = params.get("VersionId") if isinstance(params, dict) else None
            token = VERSION.set(str(version) if version else None)
            try:
                return original(reader, effective, ctx)
            finally:
                VERSION.reset(token)

        return read_map_items

    def versioned(original: Callable[..., Any]) -> Callable[..., Any]:
        def s3_object_text(bucket: Any, key: Any) -> Any:
            version = VERSION.get()
            if version is None:
                return original(bucket, key)
            from ministack.services import s3

            status, _headers, body = s3._get_object(bucket, key, {}, {"versionId": [version]})
            if status != 200:
                raise sf._ExecutionError(
                    "States.ItemReaderFailed",
                    f"The specified version does not exist. (Bucket: {bucket}, Key: {key}, "
                    f"VersionId: {version})",
                )
            return body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)

        return s3_object_text

    wrap(sf, "_read_map_items", pinned)
    wrap(sf, "_s3_object_text", versioned)
