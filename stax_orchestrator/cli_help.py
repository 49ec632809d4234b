"""What ``--help`` says about each command beyond its options, and the reference that is
generated from it (``python -m stax_orchestrator.cli_reference`` prints docs/cli-reference.md).

Role: one place for the commands' descriptions and examples. :func:`apply` puts them on
the parser (an epilog of examples on every command); :func:`reference` walks the same
parser, so the reference cannot drift from ``--help`` (``tests/unit/test_cli_reference.py``
fails when the file in docs/ is not what this prints).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

#: What the reference says above each block of examples (read by tests/docs_blocks.py).
NOT_RUN_MARKER = (
    "<!-- docs-test: not-local: examples with placeholders; each is parsed by the CLI's parser -->"
)

#: A description for the commands whose ``help`` line does not say enough.
DESCRIPTIONS = {
    "watch": "Follow an execution started earlier (by this CLI, the console or a pipeline) "
    "to its end, as run and create do.",
    "invoke": "Run one of the stage's Lambdas in this process with chalice.test.Client and "
    "the stage's environment: the Chalice counterpart of `sam local invoke`. Needs the "
    "checkout.",
    "catalogue": "List and publish the Stax workload catalogue.",
    "catalogue publish": "Upload a CloudFormation template to the artifact bucket named in "
    "SSM and create a catalogue item (or a new version of the item with that name), then "
    "wait until Stax has accepted it.",
    "catalogue list": "The catalogue items and their versions, as Stax lists them.",
    "fleet": "Run one workload operation over many accounts and regions on the fleet state "
    "machine (a Distributed Map), with a preview, a failure tolerance and live counters.",
    "fleet run": "Start a fleet request (create, update or delete per target) and follow it "
    "live; --dry-run shows what would run and starts nothing.",
    "fleet rollout": "Update every live workload of a catalogue item to a version, as a "
    "fleet; --dry-run shows which workloads would be updated.",
    "fleet results": "The per-target results of a fleet, as the coordination store keeps "
    "them (--csv for a spreadsheet).",
    "plan": "Compare a baselines file with Stax and print what apply would change, like "
    "`terraform plan`. Exit 0 with or without changes; with --detailed-exitcode 0 no "
    "change, 2 changes, 1 an error.",
    "apply": "Make Stax match a baselines file: plan, show, ask (only 'yes' approves), then "
    "run the fleets. A saved plan (plan --out) is applied as saved, if Stax has not changed.",
    "stage": "The deployed stage: its CloudFormation stack, outputs and drift.",
    "workloads": "The Stax workloads the orchestrator manages, read from Stax (paged, with "
    "Stax's own filters) and joined with the stage's coordination table: the baseline each "
    "was created for and the execution that wrote it last. --all lists every workload.",
}

#: At least one example for every command (the global options may follow it).
EXAMPLES = {
    "run": ["stax-orchestrator run payload.json", "cat payload.json | stax-orchestrator run -"],
    "create": ["stax-orchestrator create --account-id 123456789012 --region us-east-1 "
               "--catalogue-id CATALOGUE_ID --name team-a-vpc --param VpcCidr=10.0.0.0/16"],
    "update": ["stax-orchestrator update --workload-id WORKLOAD_ID --catalogue-version-id "
               "VERSION_ID", "stax-orchestrator update --workload-id WORKLOAD_ID "
               "--param-file params.json"],
    "delete": ["stax-orchestrator delete --workload-id WORKLOAD_ID --no-wait"],
    "watch": ["stax-orchestrator watch EXECUTION_ARN"],
    "list": ["stax-orchestrator list --status FAILED",
             "stax-orchestrator list --query \"[?status=='FAILED'].execution_arn\" "
             "--output text"],
    "history": ["stax-orchestrator history EXECUTION_ARN --output yaml"],
    "invoke": ["stax-orchestrator invoke validate_input events/validate_input/create.json"],
    "catalogue": ["stax-orchestrator catalogue list"],
    "catalogue publish": ["stax-orchestrator catalogue publish template.yaml --name team-vpc "
                          "--description 'The team VPC'"],
    "catalogue list": ["stax-orchestrator catalogue list --output json"],
    "fleet": ["stax-orchestrator fleet run examples/fleet-create.json --dry-run"],
    "fleet run": ["stax-orchestrator fleet run examples/fleet-create.json --dry-run",
                  "stax-orchestrator fleet run request.json --targets targets.csv"],
    "fleet rollout": ["stax-orchestrator fleet rollout --catalogue-id CATALOGUE_ID "
                      "--catalogue-version-id VERSION_ID --max-concurrency 10 --dry-run",
                      "stax-orchestrator fleet rollout --catalogue-id CATALOGUE_ID "
                      "--catalogue-version-id VERSION_ID --stages 1,25%,100% "
                      "--halt-on-alarm api-errors-high"],
    "fleet results": ["stax-orchestrator fleet results EXECUTION --status FAILED --csv"],
    "fleet resume": ["stax-orchestrator fleet resume EXECUTION_ARN"],
    "workloads": ["stax-orchestrator workloads --baseline network --region us-east-1",
                  "stax-orchestrator workloads --account workloads-prod --all --output json"],
    "fleet list": ["stax-orchestrator fleet list --status FAILED",
                   "stax-orchestrator fleet list --query '[].[fleet, failed]' --output text"],
    "plan": ["stax-orchestrator plan baselines.yaml",
             "stax-orchestrator plan baselines.yaml --out plan.json --detailed-exitcode"],
    "apply": ["stax-orchestrator apply baselines.yaml",
              "stax-orchestrator apply plan.json --auto-approve"],
    "setup": ["stax-orchestrator setup --stage dev",
              "stax-orchestrator setup --stage dev --read-only-token"],
    "completion": ["source <(stax-orchestrator completion bash)"],
    "stage": ["stax-orchestrator stage status --stage dev"],
    "stage status": ["stax-orchestrator stage status --stage dev --no-drift"],
}  # fmt: skip


def commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    """``(name, parser, help line)`` of every command and sub-command, in order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                full = f"{prefix} {name}".strip()
                yield full, sub, helps.get(name, "")
                yield from commands(sub, full)


def apply(parser: argparse.ArgumentParser) -> None:
    """Give every command its description and an epilog of examples."""
    for name, sub, line in commands(parser):
        sub.description = sub.description or DESCRIPTIONS.get(name) or _sentence(line)
        examples = EXAMPLES.get(name, [])
        if examples:
            sub.epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
            sub.formatter_class = argparse.RawDescriptionHelpFormatter


def _sentence(line: str) -> str:
    return (line[:1].upper() + line[1:] + ".") if line else ""


def reference(parser: argparse.ArgumentParser) -> str:
    """docs/cli-reference.md: every command's description, usage, options and examples."""
    out = [
        "# CLI reference",
        "",
        "Generated from the parser by `python -m stax_orchestrator.cli_reference` (`make docs`);",
        "a test fails when this file is not what it prints. Conventions and exit codes:",
        "[cli.md](cli.md). The global options (below) may also follow a command's name.",
        "",
        "## Global options",
        "",
        *_options(parser, global_only=True),
    ]
    for name, sub, _line in commands(parser):
        out += ["", f"## {name}", "", sub.description or "", "", "```", _usage(sub), "```"]
        options = _options(sub, global_only=False)
        if options:
            out += ["", *options]
        if EXAMPLES.get(name):
            # The examples hold placeholders; tests/unit/test_docs_commands.py parses each
            # with this parser, so none can name an option the CLI no longer has.
            out += ["", NOT_RUN_MARKER, "```bash", *EXAMPLES[name], "```"]
    return "\n".join(out).rstrip() + "\n"


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=1_000)
    formatter.add_usage(parser.usage, _own(parser), parser._mutually_exclusive_groups, "")
    return formatter.format_help().strip()


def _own(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's actions but the global options (shown once, at the top)."""
    return [a for a in parser._actions if a.help != argparse.SUPPRESS]


def _options(parser: argparse.ArgumentParser, *, global_only: bool) -> list[str]:
    rows = ["| option | what it is for |", "|---|---|"]
    for action in _own(parser):
        if isinstance(action, argparse._SubParsersAction) or action.dest == "help":
            continue
        is_global = any(g.title == "global options" and action in g._group_actions
                        for g in parser._action_groups)  # fmt: skip
        if is_global != global_only:
            continue
        names = ", ".join(action.option_strings) or action.dest.upper()
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            names += " {" + ",".join(str(c) for c in action.choices) + "}"
        text = (action.help or "").replace("|", "\\|").replace("%%", "%")
        rows.append(f"| `{names}` | {text} |")
    return rows if len(rows) > 2 else []
