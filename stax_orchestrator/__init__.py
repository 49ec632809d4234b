"""Stax Orchestrator's client side: the CLI, the deploy steps, the state machine contract.

``__version__`` is the one version: the Python package (pyproject reads it), the CLI's
``--version`` and the Serverless Application Repository metadata of the CloudFormation
package all take it from here.
"""

__version__ = "0.2.0"
