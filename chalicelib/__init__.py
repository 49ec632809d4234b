"""What the Stax Orchestrator Lambdas run: validation, polling schedule, Stax access, use cases."""
