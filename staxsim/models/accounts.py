"""AWS accounts of the simulated organisation (``Account`` records, read-only API).

Accounts only come from the seed (the orchestrator never creates one); the API lists
and reads them (``accounts.ReadAccounts``) and workload writes check that the
``AccountId`` they name exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from staxsim.exceptions import NotFound
from staxsim.queries import in_csv, paginate, paging_params

#: ReadAccounts filters that match one field against a comma-separated list.
_CSV_FILTERS = (
    ("id_filter", "Id"),
    ("account_names", "Name"),
    ("aws_account_id_filter", "AwsAccountId"),
    ("filter", "Status"),
    ("account_type_filter", "AccountType"),
)


class AccountBackend:
    """The organisation's accounts, stored in the document's ``Account`` shape."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}

    def clear(self) -> None:
        """Forget every account."""
        self.accounts = {}

    def put(self, account: dict[str, Any]) -> None:
        """Add or replace (same ``Id``) a seeded account."""
        self.accounts[account["Id"]] = account

    def get(self, account_id: str) -> dict[str, Any] | None:
        """The account with this id, if any."""
        return self.accounts.get(account_id)

    def ids_named(self, names: list[str]) -> set[str]:
        """Ids of the accounts called one of ``names``."""
        return {a["Id"] for a in self.accounts.values() if a.get("Name") in names}

    def query(self, query: Mapping[str, str], account_id: str | None = None) -> dict[str, Any]:
        """``accounts.ReadAccounts``: filters ``id_filter``, ``account_names``,
        ``name_filter``, ``aws_account_id_filter``, ``filter`` (statuses),
        ``account_type_filter``; ``limit``/``offset`` paging."""
        limit, offset = paging_params(query)
        if account_id is not None:
            account = self.accounts.get(account_id)
            if account is None:
                raise NotFound(f"Account {account_id} not found")
            candidates = [account]
        else:
            candidates = sorted(self.accounts.values(), key=lambda a: a.get("Name", ""))
        name_part = (query.get("name_filter") or "").lower()
        selected = [
            dict(account)
            for account in candidates
            if all(in_csv(query.get(param), account.get(key)) for param, key in _CSV_FILTERS)
            and (not name_part or name_part in str(account.get("Name", "")).lower())
        ]
        page, paging = paginate(selected, limit, offset)
        response: dict[str, Any] = {"Accounts": page}
        if paging is not None:
            response["Paging"] = paging
        return response
