"""Compatibility names for code written against the former single-module state.

The state now lives in ``staxsim.backend`` (``SimState``, composed of the per-resource
backends of ``staxsim.models``), with errors in ``staxsim.exceptions`` and query
helpers in ``staxsim.queries``. New code should import from those modules.
"""

from staxsim.backend import SimState
from staxsim.exceptions import BadRequest, Forbidden, NotConfigured, NotFound, SimError
from staxsim.models.catalogue import CatalogueItem, CatalogueVersion, catalogue_status_for
from staxsim.models.common import STAX_OPERATIONS, is_uuid, iso
from staxsim.models.observability import max_overlap
from staxsim.models.organisation import build_public_config
from staxsim.models.tasks import FailRule, Task, TaskDurations, task_status_at
from staxsim.models.workloads import WORKLOAD_STATUSES, Workload, workload_status_for

__all__ = [
    "STAX_OPERATIONS",
    "WORKLOAD_STATUSES",
    "BadRequest",
    "CatalogueItem",
    "CatalogueVersion",
    "FailRule",
    "Forbidden",
    "NotConfigured",
    "NotFound",
    "SimError",
    "SimState",
    "Task",
    "TaskDurations",
    "Workload",
    "build_public_config",
    "catalogue_status_for",
    "is_uuid",
    "iso",
    "max_overlap",
    "task_status_at",
    "workload_status_for",
]
