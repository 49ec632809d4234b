"""The simulator's models and per-resource backends (the role of moto's ``models.py``).

Each model owns its behaviour and its status transitions; each backend holds one kind
of resource and its operations. ``staxsim.backend.SimState`` composes them behind one
lock.

* ``common`` - ids, timestamps, Stax operation names;
* ``tasks`` - :class:`Task` (phases, log plan, visibility), fail rules, ``TaskBackend``;
* ``catalogue`` - catalogue items and versions, ``CatalogueBackend``;
* ``workloads`` - :class:`Workload` and its statuses, ``WorkloadBackend``;
* ``accounts`` - ``AccountBackend``;
* ``organisation`` - the organisation and the ApiAuth config (``/public/config``);
* ``observability`` - the request log and the connection counters.
"""

from staxsim.models.catalogue import CatalogueItem, CatalogueVersion, catalogue_status_for
from staxsim.models.tasks import FailRule, Task, TaskDurations, task_status_at
from staxsim.models.workloads import Workload, workload_status_for

__all__ = [
    "CatalogueItem",
    "CatalogueVersion",
    "FailRule",
    "Task",
    "TaskDurations",
    "Workload",
    "catalogue_status_for",
    "task_status_at",
    "workload_status_for",
]
