"""Baselines planned against the simulator through the real ``StaxGateway`` and SDK.

The gateway, the SDK's request path, the simulator's strict answers (tags only by id
with ``include_tags``; in the ``strict_defaults`` cases a quarter of the answers with
every nullable field null, and a read-after-write lag) -- only the Cognito login is
replaced by the SDK's own signer with dummy credentials, as in ``test_contract_sdk``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from baselines_support import (
    FILE,
    REGIONS,
    converged,
    network,
    wid,
)
from contract_support import (
    ACCOUNT_PROD,
    SSM_V2,
    VPC_V1,
    VPC_V2,
    StaxOnlyContext,
)

from chalicelib.baselines import (
    BASELINE_TAG,
    BaselineConflict,
    InvalidBaselines,
    SavedPlanStale,
    check_fresh,
    compute_plan,
    fleets,
    has_changes,
    load_baselines,
    load_saved,
)
from chalicelib.baselines.account import InvalidAccountEvent, account_event, plan_account
from chalicelib.baselines.saved import dumps
from chalicelib.stax import StaxGateway
from chalicelib.validation import validate_fleet_request
from staxsim.control import SimulatorControl


def actions(plan: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (c["action"], c["baseline"], str(c["account_name"]), str(c["region"]))
        for c in plan["changes"]
    )


def test_an_empty_organisation_plans_one_create_per_account_type_account_and_region(
    gateway: StaxGateway,
) -> None:
    plan = compute_plan(gateway, load_baselines(FILE), prune=False)
    assert plan["totals"]["create"] == 6 and has_changes(plan)
    assert actions(plan) == sorted(
        [("create", "network", "workloads-prod", r) for r in REGIONS]
        + [("create", "params", a, r) for a in ("workloads-dev", "workloads-staging")
           for r in REGIONS]
    )  # fmt: skip
    east = next(
        c for c in plan["changes"] if c["baseline"] == "network" and c["region"] == "us-east-1"
    )
    request = east["requests"][0]
    assert request["workload_parameters"] == {"VpcCidr": "10.1.0.0/16"}  # the region override
    assert request["workload_tags"] == {"CostCode": "1234", BASELINE_TAG: "network"}
    assert request["catalogue_version_id"] == VPC_V1  # "1.0.0" by its name
    latest = next(c for c in plan["changes"] if c["baseline"] == "params")
    assert latest["requests"][0]["catalogue_version_id"] == SSM_V2  # latest
    rounds = fleets(plan)
    assert [(f["baseline"], f["round"], len(f["request"]["targets"])) for f in rounds] == [
        ("network", "create/update", 2),
        ("params", "create/update", 4),
    ]
    assert rounds[0]["request"]["max_concurrency"] == 2
    assert rounds[1]["request"]["failure_tolerance"] == "50%"
    for fleet in rounds:
        assert validate_fleet_request(fleet["request"])["operation"] == "apply"


def test_a_converged_organisation_plans_no_change_even_with_nulls_and_lag(
    gateway: StaxGateway, strict_defaults: SimulatorControl
) -> None:
    converged(strict_defaults)
    plan = compute_plan(gateway, load_baselines(FILE), prune=False)
    assert plan["totals"]["noop"] == 6 and not has_changes(plan), actions(plan)
    again = compute_plan(gateway, load_baselines(FILE), prune=False)
    assert again["fingerprint"] == plan["fingerprint"]  # nulls never reach the state
    check_fresh(gateway, load_saved(dumps(plan), "plan.json"))


def test_a_changed_version_parameter_and_tag_are_updates_that_say_why(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    converged(control)
    changed = FILE.replace('version: "1.0.0"', 'version: "1.1.0"').replace(
        'CostCode: "1234"', 'CostCode: "9999"'
    )
    plan = compute_plan(gateway, load_baselines(changed), prune=False)
    updates = [c for c in plan["changes"] if c["action"] == "update"]
    assert len(updates) == 2 and plan["totals"]["noop"] == 4
    assert updates[0]["reasons"] == [
        f"version 1.0.0 ({VPC_V1}) -> 1.1.0 ({VPC_V2})",
        "tag CostCode: 1234 -> 9999",
    ]
    request = updates[0]["requests"][0]
    assert request["operation"] == "update" and request["catalogue_version_id"] == VPC_V2
    assert request["workload_tags"] == {"CostCode": "9999", BASELINE_TAG: "network"}
    assert "workload_parameters" not in request  # only what changed is sent
    cidr = FILE.replace("VpcCidr: 10.0.0.0/16", "VpcCidr: 10.9.0.0/16")
    plan = compute_plan(gateway, load_baselines(cidr), prune=False)
    (update,) = [c for c in plan["changes"] if c["action"] == "update"]
    assert (update["region"], update["reasons"]) == (
        "ap-southeast-2",
        ["parameter VpcCidr -> 10.9.0.0/16"],
    )


def test_orphans_are_kept_without_prune_and_deleted_with_it(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    converged(control)
    narrowed = FILE.replace(
        "account_types: [production]\n      regions: [ap-southeast-2, us-east-1]",
        "account_types: [production]\n      regions: [ap-southeast-2]",
    )
    kept = compute_plan(gateway, load_baselines(narrowed), prune=False)
    (orphan,) = [c for c in kept["changes"] if c["action"] == "orphan"]
    assert (orphan["workload_id"], orphan["region"]) == (wid(1), "us-east-1")
    assert not has_changes(kept) and fleets(kept) == []
    pruned = compute_plan(gateway, load_baselines(narrowed), prune=True)
    (delete,) = [c for c in pruned["changes"] if c["action"] == "delete"]
    assert delete["requests"] == [{"operation": "delete", "workload_id": wid(1)}]
    assert [(f["baseline"], f["round"]) for f in fleets(pruned)] == [("network", "delete")]


def test_failed_workloads_are_repaired_with_the_operation_that_can_fix_them(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    converged(control)
    control.seed(
        workloads=[
            network(ACCOUNT_PROD, "ap-southeast-2", wid(0), Status="CREATE_FAILED"),
            network(ACCOUNT_PROD, "us-east-1", wid(1), Status="UPDATE_FAILED"),
        ]
    )
    plan = compute_plan(gateway, load_baselines(FILE), prune=False)
    by_region = {c["region"]: c for c in plan["changes"] if c["baseline"] == "network"}
    replace, repair = by_region["ap-southeast-2"], by_region["us-east-1"]
    assert replace["action"] == "replace" and "CREATE_FAILED" in replace["reasons"][0]
    assert [r["operation"] for r in replace["requests"]] == ["delete", "create"]
    assert repair["action"] == "update" and "UPDATE_FAILED" in repair["reasons"][0]
    assert repair["requests"][0]["catalogue_version_id"] == VPC_V1
    assert [
        (f["round"], len(f["request"]["targets"]))
        for f in fleets(plan)
        if f["baseline"] == "network"
    ] == [
        ("delete", 1),
        ("create/update", 2),
    ]


def test_a_workload_holding_a_targets_name_without_the_tag_stops_the_plan(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    control.seed(workloads=[network(ACCOUNT_PROD, "us-east-1", wid(1), Tags={"CostCode": "1234"})])
    with pytest.raises(BaselineConflict) as refused:
        compute_plan(gateway, load_baselines(FILE), prune=False)
    assert "network-workloads-prod-us-east-1" in refused.value.details["workloads"][0]
    assert BASELINE_TAG in refused.value.message


def test_what_stax_does_not_have_is_named_on_its_line(gateway: StaxGateway) -> None:
    bad = (
        FILE.replace("catalogue: baseline-vpc", "catalogue: no-such-item")
        .replace("version: latest", "version: 9.9.9")
        .replace("[development]", "[development, sandbox]")
    )
    with pytest.raises(InvalidBaselines) as refused:
        compute_plan(gateway, load_baselines(bad), prune=False)
    found = {(p["line"], p["path"]) for p in refused.value.problems}
    assert found == {
        (3, "baselines.network.catalogue"),
        (20, "baselines.params.version"),
        (23, "baselines.params.targets.account_types[1]"),
    }
    text = refused.value.text()
    assert "Stax has no account type 'sandbox'" in text and "production" in text


def test_a_saved_plan_is_refused_naming_what_changed_in_stax(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    converged(control)
    saved = load_saved(dumps(compute_plan(gateway, load_baselines(FILE), prune=False)), "p")
    check_fresh(gateway, saved)  # nothing changed: accepted
    control.seed(workloads=[network(ACCOUNT_PROD, "us-east-1", wid(1), Status="UPDATE_FAILED")])
    with pytest.raises(SavedPlanStale) as refused:
        check_fresh(gateway, saved)
    assert refused.value.details["changes"] == [
        f"workload 'network-workloads-prod-us-east-1' ({wid(1)}): Status ACTIVE -> UPDATE_FAILED"
    ]


def run_plan(gateway: StaxGateway, path: Any, *flags: str) -> tuple[int, str]:
    """The exit code, and stdout (results; after stderr's messages unless ``--json``)."""
    from stax_orchestrator.cli import build_parser
    from stax_orchestrator.commands_baseline import cmd_plan
    from stax_orchestrator.console import Output

    args = build_parser().parse_args(["plan", str(path), *flags])
    stream, err = io.StringIO(), io.StringIO()
    code = cmd_plan(
        args, StaxOnlyContext(gateway), Output(args.json, stream=stream, err_stream=err)
    )
    return code, stream.getvalue() if args.json else err.getvalue() + stream.getvalue()


def test_plan_exits_0_planned_and_with_detailed_exitcode_2_on_changes_and_1_on_a_bad_file(
    gateway: StaxGateway, control: SimulatorControl, tmp_path: Any
) -> None:
    path = tmp_path / "baselines.yaml"
    path.write_text(FILE)
    code, text = run_plan(gateway, path)
    assert code == 0, text  # changes are not a failure (as terraform plan)
    code, text = run_plan(gateway, path, "--detailed-exitcode", "--out", str(tmp_path / "p.json"))
    assert code == 2, text
    assert "Plan: 6 to create, 0 to update" in text and "network-workloads-prod-us-east-1" in text
    saved = load_saved((tmp_path / "p.json").read_text(), "p.json")
    assert saved["totals"]["create"] == 6 and saved["source"] == FILE
    converged(control)
    code, text = run_plan(gateway, path, "--json", "--detailed-exitcode")
    assert code == 0 and json.loads(text)["totals"]["noop"] == 6
    path.write_text(FILE.replace("regions: [ap-southeast-2, us-east-1]", "regions: [mars-1]", 1))
    code, text = run_plan(gateway, path, "--detailed-exitcode")
    assert code == 1
    assert 'line 16: baselines.network.targets.regions[0]: "mars-1" is not a Stax region' in text


#: The prefix the stage matches Stax's account events by (the deploy's default).
STAX_SOURCE = "aws.partner/stax.io"


def stax_event(account_id: str, status: str = "SUCCESS", **detail: Any) -> dict[str, Any]:
    return {
        "source": "aws.partner/stax.io/example/stax-events",
        "detail-type": "AccountManagement: AccountCreateEvent",
        "detail": {"accountId": account_id, "accountType": "production",
                   "awsAccountId": "333333333333", "status": status,
                   "staxEventSource": "stax.account", **detail},
    }  # fmt: skip


def test_a_new_account_gets_the_baselines_of_its_type_and_nothing_else(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    converged(control)
    new = "6f000000-0000-4000-8000-0000000000aa"
    control.seed(accounts=[{"Id": new, "Name": "workloads-new", "AwsAccountId": "444444444444",
                            "AccountType": "production"}])  # fmt: skip
    planned = plan_account(
        gateway, load_baselines(FILE), account_event(stax_event(new), STAX_SOURCE)
    )
    assert sorted((c["action"], c["workload_name"]) for c in planned["changes"]) == [
        ("create", f"network-workloads-new-{r}") for r in REGIONS
    ]
    (fleet,) = planned["fleets"]
    assert [t["aws_account_id"] for t in fleet["request"]["targets"]] == [new, new]
    validate_fleet_request(fleet["request"])
    # An account already baselined: nothing to do.
    done = plan_account(
        gateway, load_baselines(FILE), account_event(stax_event(ACCOUNT_PROD), STAX_SOURCE)
    )
    assert [c["action"] for c in done["changes"]] == ["noop", "noop"] and done["fleets"] == []


def test_only_successful_stax_account_events_are_baselined() -> None:
    with pytest.raises(InvalidAccountEvent) as refused:
        account_event(
            {**stax_event(ACCOUNT_PROD, status="FAILED"), "detail-type": "Other"}, STAX_SOURCE
        )
    assert set(refused.value.details["errors"]) == {"detail-type", "detail.status"}
    event = account_event(stax_event(ACCOUNT_PROD.upper()), STAX_SOURCE)
    assert (event.account_id, event.account_type) == (ACCOUNT_PROD, "production")


def test_a_plan_never_holds_a_parameter_value_it_read_from_stax(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    secret = "hunter2-not-in-the-file"
    converged(control)
    control.seed(workloads=[network(ACCOUNT_PROD, "ap-southeast-2", wid(0),
                                    Parameters={"VpcCidr": "10.0.0.0/16", "DbPassword": secret})])  # fmt: skip
    changed = FILE.replace("VpcCidr: 10.0.0.0/16", "VpcCidr: 10.9.0.0/16")
    plan = compute_plan(gateway, load_baselines(changed), prune=False)
    text = dumps(plan)
    assert secret not in text
    assert all("10.0.0.0/16" not in json.dumps(r) for r in plan["state"].values())
    (update,) = [c for c in plan["changes"] if c["action"] == "update"]
    assert update["reasons"] == ["parameter VpcCidr -> 10.9.0.0/16"]
    (request,) = update["requests"]
    # Only the file's value; the update Lambda keeps DbPassword, reading it when it sends.
    assert request["workload_parameters"] == {"VpcCidr": "10.9.0.0/16"}
    assert request["parameters_mode"] == "merge"
    assert validate_fleet_request({"operation": "apply", "targets": [request]})


def test_a_plan_shows_new_values_and_hides_those_whose_names_look_secret() -> None:
    from chalicelib.baselines.planner import SENSITIVE, shown

    assert shown("VpcCidr", "10.0.0.0/16") == "10.0.0.0/16"
    for name in ("DbPassword", "ApiToken", "ClientSecret", "KmsKeyArn", "PrivateCert"):
        assert shown(name, "anything") == SENSITIVE
