"""Which Stax account a request means: its id (a UUID) or its 12-digit AWS account number.

People who run many AWS accounts know them by number; Stax writes need the Stax account
id. A number is resolved through ReadAccounts (one call for any number of them, so a
fleet of thousands of targets costs a handful of calls); an id is used as given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import AwsAccountAmbiguous, AwsAccountNotFound
from chalicelib.logs import log_event
from chalicelib.validation.fields import AWS_ACCOUNT_NUMBER_PATTERN


def is_aws_account_number(value: object) -> bool:
    """True for a 12-digit AWS account number (as validation accepts it)."""
    return isinstance(value, str) and AWS_ACCOUNT_NUMBER_PATTERN.fullmatch(value) is not None


def resolve_account_ids(stax: Any, refs: Iterable[str]) -> dict[str, str]:
    """Map every account reference to its Stax account id.

    Raises:
        AwsAccountNotFound: a number no Stax account carries (``details["aws_account_ids"]``
            lists every such number).
        AwsAccountAmbiguous: a number more than one Stax account carries.
        StaxApiUnavailable, StaxAuthenticationFailed: from ReadAccounts.
    """
    refs = list(refs)
    numbers = sorted({r for r in refs if is_aws_account_number(r)})
    resolved = {r: r for r in refs if not is_aws_account_number(r)}
    if not numbers:
        return resolved
    by_number: dict[str, list[str]] = defaultdict(list)
    for account in stax.accounts_with_aws_numbers(numbers):
        if account.get("Id") and account["Id"] not in by_number[account["AwsAccountId"]]:
            by_number[account["AwsAccountId"]].append(account["Id"])
    missing = [n for n in numbers if not by_number.get(n)]
    if missing:
        raise AwsAccountNotFound(
            f"No Stax account has the AWS account number{'s' if len(missing) > 1 else ''} "
            + ", ".join(missing),
            aws_account_ids=missing,
        )
    ambiguous = {n: ids for n, ids in by_number.items() if len(ids) > 1}
    if ambiguous:
        number, ids = sorted(ambiguous.items())[0]
        raise AwsAccountAmbiguous(
            f"{len(ids)} Stax accounts have the AWS account number {number}",
            aws_account_id=number,
            stax_account_ids=sorted(ids),
        )
    log_event("accounts_resolved", count=len(numbers))
    resolved.update({n: by_number[n][0] for n in numbers})
    return resolved
