"""Which handler answers which path (the role of moto's ``urls.py``).

* :data:`SERVED` - the document's operations the simulator serves: (document path,
  method) -> handler name in ``staxsim.responses.StaxResponses``;
* :class:`Router` - matches a request path against *every* path of the document (the
  most literal segments win), so the server can answer 404 (no such path), 405 (the
  document has no such method there) and 501 (the document has it, the simulator
  does not serve it) faithfully;
* :data:`CONTROL_ROUTES` - the ``/_sim`` control endpoints -> handler names in
  ``staxsim.control_api.ControlApi``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from staxsim.document import API_PREFIX, StaxDocument

CONTROL_PREFIX = "/_sim"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

#: Operations the simulator serves: (document path, method) -> handler name.
SERVED: dict[tuple[str, str], str] = {
    (f"{API_PREFIX}/public/config", "get"): "public_config",
    (f"{API_PREFIX}/workloads", "get"): "read_workloads",
    (f"{API_PREFIX}/workloads", "post"): "create_workload",
    (f"{API_PREFIX}/workloads/{{workload_id}}", "get"): "read_workload",
    (f"{API_PREFIX}/workloads/{{workload_id}}", "put"): "update_workload",
    (f"{API_PREFIX}/workloads/{{workload_id}}", "delete"): "delete_workload",
    (f"{API_PREFIX}/workload-catalogue", "get"): "read_catalogue",
    (f"{API_PREFIX}/workload-catalogue", "post"): "create_catalogue_item",
    (f"{API_PREFIX}/workload-catalogue/{{catalogue_id}}", "get"): "read_catalogue_item",
    (f"{API_PREFIX}/workload-catalogue/{{catalogue_id}}", "put"): "create_catalogue_version",
    (
        f"{API_PREFIX}/workload-catalogue/{{catalogue_id}}/{{version_id}}",
        "get",
    ): "read_catalogue_version",
    (f"{API_PREFIX}/task/{{task_id}}", "get"): "read_task",
    (f"{API_PREFIX}/accounts", "get"): "read_accounts",
    (f"{API_PREFIX}/accounts/{{account_id}}", "get"): "read_account",
    (f"{API_PREFIX}/accounts/types", "get"): "read_account_types",
}
#: Served paths API Gateway lets through without a SigV4 signature.
UNSIGNED_PATHS = {f"{API_PREFIX}/public/config"}

#: Control endpoints: path -> {HTTP method: handler suffix}.
CONTROL_ROUTES: dict[str, dict[str, str]] = {
    f"{CONTROL_PREFIX}/health": {"GET": "health"},
    f"{CONTROL_PREFIX}/reset": {"POST": "reset"},
    f"{CONTROL_PREFIX}/config": {"GET": "get_config", "PUT": "put_config"},
    f"{CONTROL_PREFIX}/seed": {"POST": "seed"},
    f"{CONTROL_PREFIX}/tasks": {"GET": "get_tasks", "PUT": "put_tasks"},
    f"{CONTROL_PREFIX}/tasks/fail": {"GET": "get_fail", "POST": "add_fail", "DELETE": "clear_fail"},
    f"{CONTROL_PREFIX}/faults": {
        "GET": "get_faults",
        "PUT": "put_faults",
        "DELETE": "clear_faults",
    },
    f"{CONTROL_PREFIX}/realism": {"GET": "get_realism", "PUT": "put_realism"},
    f"{CONTROL_PREFIX}/requests": {"GET": "get_requests", "DELETE": "clear_requests"},
    f"{CONTROL_PREFIX}/state": {"GET": "state"},
    f"{CONTROL_PREFIX}/stats": {"GET": "stats"},
    f"{CONTROL_PREFIX}/events": {"GET": "get_events", "PUT": "put_events"},
}


def is_control_path(path: str) -> bool:
    """Whether ``path`` belongs to the control API."""
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


@dataclass
class Match:
    """A routed API request: the document path, its parameters and its methods."""

    template: str
    params: dict[str, str]
    methods: tuple[str, ...]


class Router:
    """Matches request paths against every path of the document."""

    def __init__(self, document: StaxDocument) -> None:
        self._routes: list[tuple[re.Pattern[str], str, int, tuple[str, ...]]] = []
        for template, item in document.document["paths"].items():
            pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            literals = sum(1 for s in template.split("/") if s and "{" not in s)
            methods = tuple(m for m in item if m in HTTP_METHODS)
            self._routes.append((re.compile(pattern), template, literals, methods))
        self._routes.sort(key=lambda r: -r[2])

    def match(self, path: str) -> Match | None:
        """The most specific document path matching ``path`` (None if none does)."""
        for pattern, template, _, methods in self._routes:
            found = pattern.match(path)
            if found:
                return Match(template, dict(found.groupdict()), methods)
        return None
