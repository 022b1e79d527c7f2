"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit the way a user runs them.

Nothing here is mocked: pre-commit builds the hook's virtual environment by pip-installing this repository,
then runs the ``ibpolicy-lint`` console script on a throwaway git repository holding a fixture template.

Where pre-commit keeps things: ``PRE_COMMIT_HOME`` (and virtualenv's seed-wheel cache) point into one folder
for the whole module, so the hook environment that ``repo:``/``rev:`` configurations use is built once and the
user's ``~/.cache`` is left alone. ``pre-commit try-repo`` ignores that folder: it always builds into a
store of its own that it deletes afterwards, so every try-repo call here costs a full environment build, and
the file makes two of them.

Which copy of the linter is tested: the repository itself when its work tree is clean (CI's fresh clone),
otherwise a snapshot commit of the work tree, untracked files included. try-repo's own answer to a dirty
tree copies only tracked files, so a new module that a modified file imports would be missing from the
hook environment and the tests would fail for a reason that has nothing to do with the hooks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, REPO

pytest.importorskip("pre_commit", reason="pre-commit is not installed (it is in the test extra: pip install -e '.[test]')")

pytestmark = pytest.mark.integration

BAD = FIXTURES / "ibp101-recipe-managed-key" / "bad.yaml"
GOOD = FIXTURES / "ibp101-recipe-managed-key" / "good.yaml"
FAST = "ibpolicy-lint (changed templates)"
WHOLE = "ibpolicy-lint (whole repository)"
TIMEOUT = 300  # a first hook environment build downloads cfn-lint and its dependencies


@dataclass
class Result:
    returncode: int
    output: str  # stdout and stderr together, as a user sees them in a terminal


@dataclass
class HookRepo:
    path: Path
    rev: str


def _clean_environment(home: Path) -> dict[str, str]:
    # An outer git (a hook running these tests) exports GIT_DIR, GIT_INDEX_FILE and friends, which would
    # point every git command here at the wrong repository; SKIP would silently skip our hooks.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "PRE_COMMIT"))}
    env.pop("SKIP", None)
    env.update(
        PRE_COMMIT_HOME=str(home / "pre-commit"),
        VIRTUALENV_OVERRIDE_APP_DATA=str(home / "virtualenv"),
        PRE_COMMIT_COLOR="never",
    )
    return env


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    return _clean_environment(tmp_path_factory.mktemp("pre-commit-home"))


def run(*command: str, cwd: Path, env: dict[str, str]) -> Result:
    completed = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT
    )
    return Result(completed.returncode, completed.stdout)


def pre_commit(*args: str, cwd: Path, env: dict[str, str]) -> Result:
    return run(sys.executable, "-m", "pre_commit", *args, cwd=cwd, env=env)


def git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    result = run("git", *args, cwd=cwd, env=env)
    assert result.returncode == 0, f"git {' '.join(args)} failed:\n{result.output}"
    return result.output.strip()


def new_repository(path: Path, env: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git("-c", "init.defaultBranch=main", "init", "-q", cwd=path, env=env)
    git("config", "user.name", "ibpolicy-lint tests", cwd=path, env=env)
    git("config", "user.email", "tests@ibpolicy-lint.invalid", cwd=path, env=env)
    git("config", "commit.gpgsign", "false", cwd=path, env=env)
    return path


def hook_status(output: str, hook: str) -> str:
    """What pre-commit printed after the dots on the hook's line: Passed, Failed, (no files to check)Skipped."""
    found = re.findall(rf"^{re.escape(hook)}\.+(.*)$", output, flags=re.MULTILINE)
    assert len(found) == 1, f"expected one line for {hook!r} in:\n{output}"
    return found[0].strip()


@pytest.fixture(scope="module")
def hook_repo(env, tmp_path_factory) -> HookRepo:
    status = run("git", "status", "--porcelain", "--untracked-files=all", cwd=REPO, env=env)
    if status.returncode == 0 and not status.output.strip():
        return HookRepo(REPO, git("rev-parse", "HEAD", cwd=REPO, env=env))
    snapshot = new_repository(tmp_path_factory.mktemp("hook-repo") / "ibpolicy-lint", env)
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO, env=env)
    if listed.returncode == 0:
        for name in filter(None, listed.output.split("\0")):
            source, target = REPO / name, snapshot / name
            if source.is_file():  # a tracked file deleted in the work tree stays deleted
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    else:  # not a git checkout (an unpacked sdist): take the tree less the usual caches
        junk = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".*_cache", ".hypothesis", "*.egg-info", "build", "dist")
        shutil.copytree(REPO, snapshot, ignore=junk, dirs_exist_ok=True)
    git("add", "-A", cwd=snapshot, env=env)
    git("commit", "-q", "-m", "work tree of ibpolicy-lint under test", cwd=snapshot, env=env)
    return HookRepo(snapshot, git("rev-parse", "HEAD", cwd=snapshot, env=env))


@pytest.fixture
def project(tmp_path, env) -> Path:
    """A user's repository: one failing template, and two files that are JSON/YAML but not templates."""
    path = new_repository(tmp_path / "project", env)
    shutil.copyfile(BAD, path / "pipeline.yaml")
    (path / "package.json").write_text('{"name": "infra", "private": true}\n')
    (path / "component.yml").write_text("name: hello\nschemaVersion: 1.0\nphases: []\n")
    (path / "README.md").write_text("Golden AMI pipeline\n")
    return path


def write_config(project: Path, hook_repo: HookRepo) -> None:
    hooks = [{"id": "ibpolicy-lint"}, {"id": "ibpolicy-lint-repo"}]
    config = {"repos": [{"repo": str(hook_repo.path), "rev": hook_repo.rev, "hooks": hooks}]}
    (project / ".pre-commit-config.yaml").write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML


def test_manifest_is_valid_and_its_pattern_takes_every_template_name(env):
    checked = pre_commit("validate-manifest", str(REPO / ".pre-commit-hooks.yaml"), cwd=REPO, env=env)
    assert checked.returncode == 0, checked.output
    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"ibpolicy-lint", "ibpolicy-lint-repo"}
    assert all(hook["entry"] == "ibpolicy-lint" and hook["language"] == "python" for hook in hooks.values())
    assert hooks["ibpolicy-lint-repo"]["pass_filenames"] is False and hooks["ibpolicy-lint-repo"]["always_run"] is True
    # One process for the changed files: parallel batches would repeat a folder's findings and split recipes from distributions.
    assert hooks["ibpolicy-lint"]["require_serial"] is True

    pattern = re.compile(hooks["ibpolicy-lint"]["files"])  # pre-commit applies it with re.search to the path
    templates = ["a.yaml", "infra/a.yml", "a.json", "stack.template", "main.tf", "main.tf.json", "LEGACY.YAML", "x.Template"]
    others = ["README.md", "setup.py", "terraform.tfvars", "Makefile", "yaml", "main.tf.bak", "notes.yaml.txt"]
    assert [name for name in templates if not pattern.search(name)] == []
    assert [name for name in others if pattern.search(name)] == []


def hook_output(output: str, hook_id: str) -> str:
    """What one hook printed: the lines after its ``- hook id:`` line, up to the next hook's status line."""
    status_line = r"^\S[^\n]*\.{3,}(?:Passed|Failed|\(no files to check\)Skipped)$"
    found = re.search(rf"^- hook id: {re.escape(hook_id)}$(.*?)(?={status_line}|\Z)", output, flags=re.MULTILINE | re.DOTALL)
    assert found, f"no output of {hook_id!r} in:\n{output}"
    return found.group(1)


def test_try_repo_both_hooks_fail_on_a_managed_key(project, hook_repo, env):
    """One try-repo run (an environment build) for both hooks: the changed-files hook gets two non-templates too."""
    git("add", "-A", cwd=project, env=env)
    result = pre_commit(
        "try-repo", str(hook_repo.path), "--files", "pipeline.yaml", "package.json", "component.yml", cwd=project, env=env
    )
    assert result.returncode == 1, result.output
    assert hook_status(result.output, FAST) == "Failed"
    assert hook_status(result.output, WHOLE) == "Failed"
    changed, whole = hook_output(result.output, "ibpolicy-lint"), hook_output(result.output, "ibpolicy-lint-repo")
    assert "pipeline.yaml:16:23: IBP101 error:" in changed
    assert "pipeline.yaml:16:23: IBP101 error:" in whole
    # The two non-templates are silent; the info is IBP903 (the target account's sources are not in the scan).
    assert "Found 2 findings (1 error, 0 warning, 1 info) in 1 file." in changed
    assert "package.json" not in result.output and "component.yml" not in result.output


def test_try_repo_both_hooks_pass_once_the_template_is_fixed(project, hook_repo, env):
    shutil.copyfile(GOOD, project / "pipeline.yaml")
    git("add", "-A", cwd=project, env=env)
    result = pre_commit("try-repo", str(hook_repo.path), "--all-files", cwd=project, env=env)
    assert result.returncode == 0, result.output
    assert hook_status(result.output, FAST) == "Passed"
    assert hook_status(result.output, WHOLE) == "Passed"


def test_installed_hook_blocks_the_commit_until_the_key_is_fixed(project, hook_repo, env):
    write_config(project, hook_repo)
    installed = pre_commit("install", cwd=project, env=env)
    assert installed.returncode == 0, installed.output

    git("add", "-A", cwd=project, env=env)
    blocked = run("git", "commit", "-m", "Golden AMI pipeline", cwd=project, env=env)
    assert blocked.returncode != 0, blocked.output
    assert hook_status(blocked.output, FAST) == "Failed"
    assert hook_status(blocked.output, WHOLE) == "Failed"
    assert "pipeline.yaml:16:23: IBP101 error:" in blocked.output
    assert run("git", "rev-parse", "--verify", "-q", "HEAD", cwd=project, env=env).returncode != 0, "a commit was made"

    shutil.copyfile(GOOD, project / "pipeline.yaml")
    git("add", "pipeline.yaml", cwd=project, env=env)
    committed = run("git", "commit", "-m", "Golden AMI pipeline with a customer managed key", cwd=project, env=env)
    assert committed.returncode == 0, committed.output
    assert hook_status(committed.output, FAST) == "Passed"
    assert hook_status(committed.output, WHOLE) == "Passed"
    assert git("log", "--format=%s", cwd=project, env=env) == "Golden AMI pipeline with a customer managed key"

    # A commit of JSON/YAML that is no template runs the changed-files hook on it, and it passes quietly.
    (project / "package.json").write_text('{"name": "infra", "private": true, "version": "1.0.0"}\n')
    git("add", "package.json", cwd=project, env=env)
    quiet = run("git", "commit", "-m", "Version the infra package", cwd=project, env=env)
    assert quiet.returncode == 0, quiet.output
    assert hook_status(quiet.output, FAST) == "Passed"


def test_whole_repository_hook_blocks_a_commit_that_touches_no_template(project, hook_repo, env):
    # The failing template is already in history (committed before the hooks were adopted).
    write_config(project, hook_repo)
    git("add", "-A", cwd=project, env=env)
    git("commit", "-q", "--no-verify", "-m", "Before the hooks", cwd=project, env=env)
    installed = pre_commit("install", cwd=project, env=env)
    assert installed.returncode == 0, installed.output

    (project / "README.md").write_text("Golden AMI pipeline, shared with the workload accounts\n")
    git("add", "README.md", cwd=project, env=env)
    blocked = run("git", "commit", "-m", "Describe the pipeline", cwd=project, env=env)
    assert blocked.returncode != 0, blocked.output
    assert hook_status(blocked.output, FAST) == "(no files to check)Skipped"
    assert hook_status(blocked.output, WHOLE) == "Failed"
    assert "pipeline.yaml:16:23: IBP101 error:" in blocked.output
    assert git("log", "--format=%s", cwd=project, env=env) == "Before the hooks"
