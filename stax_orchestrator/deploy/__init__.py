"""Deploy tooling around ``chalice deploy`` (run by ``deploy.sh``; not in the Lambda package).

Role: a package by concern -- ``names`` (every name of a stage), ``stage`` (a stage's
effective Chalice configuration), ``policies`` (IAM documents), ``templates`` (the ASL
templates and their placeholders), ``template`` (the stage's CloudFormation template,
with ``cfn``, ``alerts``, ``observability`` and ``baselining`` for its parts), ``stack``
(change sets, delete, drift), ``lambdas`` (what is read from and set on Chalice's
Lambdas), ``preflight``, ``teardown``, ``package``, ``steps`` (the command line
``deploy.sh`` calls). The names below are its public face.
"""

from stax_orchestrator.deploy.names import (
    ALERT_FUNCTION,
    APP_NAME,
    CHALICE_DIR,
    FUNCTIONS,
    ROOT,
    STATE_MACHINES,
    STATEMACHINES_DIR,
    TOKEN_FUNCTIONS,
    Target,
    placeholder,
)
from stax_orchestrator.deploy.template import table_definition
from stax_orchestrator.deploy.templates import (
    DEFAULT_WATCH_TIMEOUT,
    DeployError,
    load_template,
    render,
    template_values,
)

__all__ = [
    "ALERT_FUNCTION",
    "APP_NAME",
    "CHALICE_DIR",
    "DEFAULT_WATCH_TIMEOUT",
    "FUNCTIONS",
    "ROOT",
    "STATEMACHINES_DIR",
    "STATE_MACHINES",
    "TOKEN_FUNCTIONS",
    "DeployError",
    "Target",
    "load_template",
    "placeholder",
    "render",
    "table_definition",
    "template_values",
]
