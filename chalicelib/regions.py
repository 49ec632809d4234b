"""The AWS regions Stax knows, as constants.

These are copies of the enums ``DefaultAwsRegion``, ``OptInAwsRegion`` and
``DisabledAwsRegion`` of the OpenAPI document bundled in ``staxapp``
(``staxapp/data/schema.json``, ``components/schemas``). They are written out
here instead of read from that 635 KB document at import time, because the
Lambdas import this module on every cold start. ``tests/unit/test_regions.py``
compares them with the SDK's document, so an SDK upgrade that changes the
regions fails the tests until this file is updated.

A workload can be created in a default or an opt-in region; Stax refuses the
disabled ones.
"""

from __future__ import annotations

#: ``DefaultAwsRegion``: "The available default AWS Regions" (document order).
DEFAULT_REGIONS: tuple[str, ...] = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)

#: ``OptInAwsRegion``: "The available opt-in AWS Regions" (document order).
OPT_IN_REGIONS: tuple[str, ...] = (
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
)

#: ``DisabledAwsRegion``: "The disabled default AWS Regions"; Stax refuses workloads there.
DISABLED_REGIONS: tuple[str, ...] = ("ap-northeast-3",)

#: Where a workload may be created: the default and the opt-in regions.
WORKLOAD_REGIONS: frozenset[str] = frozenset(DEFAULT_REGIONS + OPT_IN_REGIONS)
