"""AWS accounts and account types of the simulated organisation (read-only API).

Accounts and account types only come from the seed (the orchestrator never creates
one); the API lists and reads them (``accounts.ReadAccounts``,
``accounts.ReadAccountTypes``) and workload writes check that the ``AccountId`` they
name exists.

An account's ``AccountType`` holds the type's *name* while ``account_type_filter`` takes
type *ids* (the document: "The Account Type IDs to return"). The document types the
field as a bare nullable string, so the harsher reading is served: a client must resolve
names to ids through ReadAccountTypes and cannot filter with what it read on an account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from staxsim.exceptions import NotFound
from staxsim.queries import csv, in_csv, paginate, paging_params

#: ReadAccounts filters that match one field against a comma-separated list.
_CSV_FILTERS = (
    ("id_filter", "Id"),
    ("account_names", "Name"),
    ("aws_account_id_filter", "AwsAccountId"),
    ("filter", "Status"),
)


class AccountBackend:
    """The organisation's accounts, stored in the document's ``Account`` shape."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}
        #: Account types by id: ``{"Id", "Name"}`` as seeded.
        self.types: dict[str, dict[str, Any]] = {}

    def clear(self) -> None:
        """Forget every account and account type."""
        self.accounts = {}
        self.types = {}

    def put_type(self, account_type: dict[str, Any]) -> None:
        """Add or replace (same ``Id``) a seeded account type."""
        self.types[account_type["Id"]] = account_type

    def query_types(self, query: Mapping[str, str], organisation_id: str) -> dict[str, Any]:
        """``accounts.ReadAccountTypes`` (``id_filter``): each type with its accounts."""
        served = []
        for account_type in sorted(self.types.values(), key=lambda t: t["Name"]):
            if not in_csv(query.get("id_filter"), account_type["Id"]):
                continue
            members = sorted(
                a["Id"]
                for a in self.accounts.values()
                if a.get("AccountType") == account_type["Name"]
            )
            served.append(
                {
                    "Id": account_type["Id"],
                    "Name": account_type["Name"],
                    "OrganisationId": organisation_id,
                    "Status": account_type.get("Status", "ACTIVE"),
                    "Accounts": members,
                    "Policies": [],
                    "Roles": [],
                }
            )
        return {"AccountTypes": served}

    def _type_names(self, filter_value: str | None) -> set[str] | None:
        """The names of the types whose ids ``account_type_filter`` lists (None: no filter)."""
        wanted = csv(filter_value)
        if not wanted:
            return None
        return {t["Name"] for i, t in self.types.items() if i in wanted}

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
        type_names = self._type_names(query.get("account_type_filter"))
        selected = [
            dict(account)
            for account in candidates
            if all(in_csv(query.get(param), account.get(key)) for param, key in _CSV_FILTERS)
            and (not name_part or name_part in str(account.get("Name", "")).lower())
            and (type_names is None or account.get("AccountType") in type_names)
        ]
        page, paging = paginate(selected, limit, offset)
        response: dict[str, Any] = {"Accounts": page}
        if paging is not None:
            response["Paging"] = paging
        return response
