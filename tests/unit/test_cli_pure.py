"""Pure parts of the command-line tool: flags → payload, versions, manifests, causes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stax_orchestrator import catalogue, cli, console, follow
from stax_orchestrator.commands_workload import payload_from_flags


def _args(argv: list[str]):
    return cli.build_parser().parse_args(argv)


def test_create_flags_make_the_seed_shaped_payload() -> None:
    args = _args(
        [
            "create", "--account-id", "A", "--region", "ap-southeast-2", "--catalogue-id", "C",
            "--catalogue-version-id", "V", "--name", "n1", "--param", "K=V=W", "--param", "X=",
            "--tag", "Owner=me",
        ]
    )  # fmt: skip
    assert payload_from_flags(args) == {
        "operation": "create",
        "aws_account_id": "A",
        "aws_region": "ap-southeast-2",
        "catalogue_id": "C",
        "catalogue_version_id": "V",
        "workload_name": "n1",
        "workload_parameters": {"K": "V=W", "X": ""},
        "workload_tags": {"Owner": "me"},
    }


def test_update_flags_send_only_what_was_given() -> None:
    args = _args(["update", "--workload-id", "W", "--no-protection"])
    assert payload_from_flags(args) == {
        "operation": "update",
        "workload_id": "W",
        "protection": False,
    }
    assert payload_from_flags(_args(["delete", "--workload-id", "W"])) == {
        "operation": "delete",
        "workload_id": "W",
    }


def test_parameters_come_from_a_file_so_values_stay_out_of_the_shell_history(
    tmp_path: Any,
) -> None:
    secret = tmp_path / "params.json"
    secret.write_text(json.dumps({"DbPassword": "s3cret", "Size": 3}))
    args = _args(["update", "--workload-id", "W", "--param-file", str(secret), "--param", "A=b"])
    assert payload_from_flags(args)["workload_parameters"] == {
        "DbPassword": "s3cret", "Size": 3, "A": "b"}  # fmt: skip
    both = _args(["update", "--workload-id", "W", "--param-file", str(secret),
                  "--param", "DbPassword=x"])  # fmt: skip
    with pytest.raises(console.CliError, match="DbPassword given by both") as raised:
        payload_from_flags(both)
    assert raised.value.code == console.EXIT_INVALID
    secret.write_text("[1]")
    with pytest.raises(console.CliError, match="must hold a JSON object"):
        payload_from_flags(args)
    secret.write_bytes(b'{"DbPassword": "\xff\xfe"}')
    with pytest.raises(console.CliError, match="is not UTF-8 text"):
        payload_from_flags(args)


def test_a_pair_without_equals_is_a_usage_error() -> None:
    args = _args(["update", "--workload-id", "W", "--tag", "novalue"])
    with pytest.raises(console.CliError, match="--tag takes KEY=VALUE") as raised:
        payload_from_flags(args)
    assert raised.value.code == console.EXIT_INVALID


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], "1.0.0"),
        (["1.0.0"], "1.0.1"),
        (["1.0.9", "1.2.0", "not-semver", "0.9.99"], "1.2.1"),
        (["2024-01-01"], "1.0.0"),
    ],
)
def test_next_version(existing: list[str], expected: str) -> None:
    assert catalogue.next_version(existing) == expected


def test_manifest_points_at_the_uploaded_template_with_the_stax_spelling() -> None:
    manifest = catalogue.manifest_for("demo-vpc", "s3://bucket/catalogue/demo-vpc/1.0.0/vpc.yaml")
    # Stax's manifest documentation spells the type AWS::Cloudformation.
    assert manifest == (
        "Resources:\n"
        "  - DemoVpc:\n"
        "      Type: AWS::Cloudformation\n"
        "      TemplateURL: s3://bucket/catalogue/demo-vpc/1.0.0/vpc.yaml\n"
    )


def test_cause_is_unwrapped_from_lambda_error_objects() -> None:
    ours = {"error": "WorkloadAlreadyExists", "workload_id": "w-1", "status": "ACTIVE"}
    lambda_cause = json.dumps(
        {"errorMessage": json.dumps(ours), "errorType": "WorkloadAlreadyExists"}
    )
    assert follow.parse_cause(lambda_cause) == ours
    assert follow.parse_cause(json.dumps(ours)) == ours
    assert follow.parse_cause("plain text") == {}
    assert follow.parse_cause(None) == {}
    plain_lambda = json.dumps({"errorMessage": "boom", "errorType": "ValueError"})
    assert follow.parse_cause(plain_lambda) == {"message": "boom", "error": "ValueError"}


def test_a_saved_plan_is_written_readable_by_its_owner_only(tmp_path: Any) -> None:
    from stax_orchestrator.commands_baseline import write_private

    fresh, existing = tmp_path / "plan.json", tmp_path / "old-plan.json"
    existing.write_text("old")
    existing.chmod(0o644)
    for path in (fresh, existing):
        write_private(str(path), '{"parameters": "may be secret"}')
        assert path.stat().st_mode & 0o777 == 0o600, path.name
        assert path.read_text() == '{"parameters": "may be secret"}'


class _Stdin:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_apply_asks_terraforms_question_and_only_yes_approves() -> None:
    import io

    from stax_orchestrator.commands_baseline import QUESTION, approval

    asked: list[str] = []

    def answer(text: str):
        def ask(question: str) -> str:
            asked.append(question)
            return text

        return ask

    out = console.Output(False, stream=io.StringIO())
    assert approval(False, _Stdin(True), answer("yes"), out) is None
    assert asked == [QUESTION] and "Only 'yes' will be accepted" in QUESTION
    assert approval(False, _Stdin(True), answer("y"), out) == console.EXIT_FAILED
    assert approval(False, _Stdin(True), answer("YES "), out) == console.EXIT_FAILED
    assert approval(True, _Stdin(False), answer("no"), out) is None  # --auto-approve
    assert approval(False, _Stdin(False), answer("yes"), out) == console.EXIT_INVALID
    assert len(asked) == 3  # no terminal, or --auto-approve: nobody is asked


def test_a_usage_error_of_plan_detailed_exitcode_is_1_never_the_changes_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["stax-orchestrator", "plan", "--detailed-exitcode"]  # no FILE
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as refused:
        cli.build_parser().parse_args(argv[1:])
    assert refused.value.code == 1
    monkeypatch.setattr("sys.argv", ["stax-orchestrator", "plan"])
    with pytest.raises(SystemExit) as refused:
        cli.build_parser().parse_args(["plan"])
    assert refused.value.code == 2


def _parsers(parser: Any, name: str = "stax-orchestrator") -> Any:
    import argparse

    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_of_every_command_says_what_it_is_for() -> None:
    import argparse

    silent = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in _parsers(cli.build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and action.help in (None, "")
    ]
    assert silent == []


def test_an_aws_cli_habit_gets_a_pointer_to_this_clis_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv, hint in (
        (["list", "--region", "us-east-1"], "--aws-region"),
        (["list", "--endpoint-url", "http://x"], "--local"),
    ):
        with pytest.raises(SystemExit) as refused:
            cli.build_parser().parse_args(argv)
        assert refused.value.code == 2
        assert f"hint: {argv[1]}:" in capsys.readouterr().err and hint


def test_an_explicit_access_key_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stax_orchestrator.commands_setup import _read_token

    monkeypatch.setenv("STAX_ACCESS_KEY", "from-the-environment")
    monkeypatch.setenv("STAX_SECRET_KEY", "s")
    args = _args(["setup", "--access-key", "given-on-the-command-line"])
    assert _read_token(args)[0] == "given-on-the-command-line"
    assert _read_token(_args(["setup"]))[0] == "from-the-environment"


def test_publishing_a_missing_template_names_the_file_before_any_login(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    missing = tmp_path / "missing.yaml"
    code = cli.main(["catalogue", "publish", str(missing), "--name", "x", "--aws-region",
                     "us-east-1"])  # fmt: skip
    output = capsys.readouterr()
    assert code == console.EXIT_INVALID
    assert f"{missing} is not a file" in output.out + output.err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "tcsh"])
def test_completion_prints_a_script_that_knows_every_command(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["completion", shell]) == console.EXIT_OK
    script = capsys.readouterr().out
    for word in ("plan", "apply", "fleet", "completion"):
        assert word in script, (shell, word)
    if shell != "tcsh":  # tcsh's completes commands only
        assert "auto-approve" in script and "detailed-exitcode" in script


def test_no_color_turns_styles_off_as_no_color_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    args = _args(["--no-color", "completion", "bash"])
    assert args.no_color is True
    cli.main(["--no-color", "completion", "bash"])
    import os

    assert os.environ.get("NO_COLOR") == "1"
    assert console.Output(False).console.no_color


DATA = {"executions": [{"name": "a", "status": "FAILED", "ok": False},
                       {"name": "b", "status": "RUNNING", "stopped": None}], "count": 2}  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "query", "expected"),
    [
        ("json", None, json.dumps(DATA, indent=2) + "\n"),
        ("yaml", "executions[?status=='FAILED'].name", "- a\n"),
        ("text", "executions", "a\tFalse\tFAILED\nb\tRUNNING\n"),
        ("text", "executions[].name", "a\tb\n"),
        ("json", "count", "2\n"),
    ],
)
def test_data_prints_in_the_output_format_after_the_query(
    fmt: str, query: str | None, expected: str
) -> None:
    import io

    import jmespath

    stream = io.StringIO()
    out = console.Output(fmt=fmt, query=jmespath.compile(query) if query else None, stream=stream)
    out.json(DATA)
    assert stream.getvalue() == expected


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--output", "yaml", "--json"], "--json is --output json"),
        (["--query", "executions[?"], "--query is not a JMESPath expression"),
        (["--output", "table", "--query", "count"], "--query selects from the data"),
    ],
)
def test_output_and_query_refuse_what_they_cannot_do_before_any_call(
    options: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([*options, "list", "--aws-region", "us-east-1"],
                    session_factory=_no_session)  # fmt: skip
    assert code == console.EXIT_INVALID
    captured = capsys.readouterr()
    assert says in captured.err and captured.out == ""


def _no_session(**_: object) -> object:
    raise AssertionError("a refused option must not reach AWS")
