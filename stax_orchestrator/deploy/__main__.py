"""``python -m stax_orchestrator.deploy STEP --stage S`` (see ``steps``)."""

import sys

from stax_orchestrator.deploy.steps import main

sys.exit(main())
