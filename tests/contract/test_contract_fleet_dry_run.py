"""``fleet rollout|run --dry-run`` shows what each target would do, read from Stax as the
plan Lambda reads it, and starts nothing."""

from __future__ import annotations

import io
import json

from baselines_support import REGIONS, network, wid
from contract_support import ACCOUNT_PROD, CATALOGUE_VPC, VPC_V2, StaxOnlyContext

from chalicelib.stax import StaxGateway
from staxsim.control import SimulatorControl


def run(gateway: StaxGateway, *argv: str) -> tuple[int, str]:
    from stax_orchestrator.cli import build_parser
    from stax_orchestrator.commands_fleet import cmd_fleet
    from stax_orchestrator.console import Output

    args = build_parser().parse_args(["fleet", *argv])
    stream = io.StringIO()
    code = cmd_fleet(args, StaxOnlyContext(gateway), Output(args.json, stream=stream))
    return code, stream.getvalue()


def test_a_rollout_dry_run_lists_each_workload_it_would_update_and_writes_nothing(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    control.seed(workloads=[network(ACCOUNT_PROD, r, wid(i)) for i, r in enumerate(REGIONS)])
    before = len(control.requests())
    flags = ("rollout", "--catalogue-id", CATALOGUE_VPC, "--catalogue-version-id", VPC_V2,
             "--failure-tolerance", "50%", "--dry-run")  # fmt: skip
    code, text = run(gateway, *flags)
    assert code == 0, text
    assert "2 target(s) would run" in text and "tolerate 1 failure(s)" in text
    assert "Nothing was started." in text
    for region in REGIONS:
        assert f"network-workloads-prod-{region}" in text
    code, text = run(gateway, *flags, "--json")
    body = json.loads(text)
    assert body["started"] is False and body["tolerated_failures"] == 1
    assert sorted(t["target"]["aws_region"] for t in body["to_run"]) == sorted(REGIONS)
    assert {t["will"] for t in body["to_run"]} == {f"update (version {VPC_V2})"}
    methods = {r["method"] for r in control.requests()[before:]}
    assert methods <= {"GET"}, f"a dry run wrote to Stax: {methods}"
