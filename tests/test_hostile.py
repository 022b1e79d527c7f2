"""Hostile and broken input (issue 7): every file ends parsed, skipped, or as one IBP000 finding.

Every input is generated at test time by hostile_inputs.py (bench/hostile.py measures the same
inputs); nothing large is committed. Each hostile file sits next to a copy of a failing template
(``BESIDE``, IBP101 at line 16) that must still be reported, so a bad file can never hide the others'
findings. Each run of the real command line is stopped after a minute as a hang, and no process this
test session has waited for may have needed 500 MB (see ``bounded_run``); how long each class of input
takes, and how much memory one run needs, are measured by bench/hostile.py, not asserted here (a slow
CI runner is no bug).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import sys
import threading
import time
import uuid
from pathlib import Path

import hostile_inputs as build
import pytest
from hostile_inputs import BAD_JSON, BAD_TF, BESIDE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, Run, run_cli
from ibpolicy_lint import limits
from ibpolicy_lint.cloudformation import looks_like_template
from ibpolicy_lint.documents import DocumentError, parse_json, parse_yaml
from ibpolicy_lint.terraform_syntax import parse_hcl

PEAK_RSS_BYTES = 500 * 1024 * 1024
MB = 1024 * 1024


# --- running the command line within bounds ----------------------------------------------------


def bounded_run(folder: Path, *args: str, paths: tuple[str, ...] = (".",)) -> Run:
    """The real CLI on ``folder`` (JSON report); a run past a minute is a hang.

    The memory check is coarse but cannot miss a run over the bound: ``RUSAGE_CHILDREN``'s ``ru_maxrss`` is the
    largest resident set of any child this test process has waited for so far, this run included. It also
    covers earlier runs (cfn-lint's, other tests') and never reads below pytest's own peak, which a child
    started with vfork inherits (bench/README.md). So a failure names a bound crossed, not necessarily by this
    scan; bench/hostile.py measures each run's own peak.
    """
    run = run_cli("--format", "json", *args, *paths, cwd=folder, timeout=60)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    assert peak < PEAK_RSS_BYTES, (
        f"a child process of this test session (this scan or an earlier one) needed {peak / MB:.0f} MB of memory"
    )
    assert_contract(run)
    return run


def assert_contract(run: Run) -> None:
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    for finding in run.findings:
        if finding["rule"] == "IBP000":
            assert finding["message"].startswith(finding["file"]), finding
            assert "internal error" not in finding["message"], finding


def problems(run: Run) -> dict[str, str]:
    """IBP000 messages by file."""
    return {finding["file"]: finding["message"] for finding in run.findings if finding["rule"] == "IBP000"}


def problem(run: Run, file: str) -> dict:
    found = [finding for finding in run.findings if finding["rule"] == "IBP000" and finding["file"] == file]
    assert len(found) == 1, (file, run.findings)
    return found[0]


def assert_beside_reported(run: Run, name: str = "beside.yaml") -> None:
    found = [(f["rule"], f["line"]) for f in run.findings if f["file"].endswith(name)]
    assert ("IBP101", 16) in found, run.findings


def tree(tmp_path: Path) -> Path:
    """A scan folder holding the failing template that must always be reported."""
    folder = tmp_path / "scan"
    folder.mkdir()
    shutil.copy(BESIDE, folder / "beside.yaml")
    return folder


# --- malformed and truncated documents ---------------------------------------------------------


def _fails(parse, data: bytes) -> bool:
    try:
        parse(data)
    except DocumentError:
        return True
    return False


def test_truncated_yaml_and_json_at_every_position(tmp_path):
    """Cut at every 37th byte: a cut that does not parse is IBP000 with its position, never anything worse."""
    folder = tree(tmp_path)
    expected = {}
    for name, data in build.truncated_documents(folder).items():
        parse = parse_yaml if name.endswith(".yaml") else parse_json
        if looks_like_template(data) and _fails(lambda d, p=parse, n=name: p(d, n), data):
            expected[name] = data.count(b"\n") + 1
    run = bounded_run(folder)
    assert_beside_reported(run)
    found = problems(run)
    assert set(found) == set(expected)
    for name, lines in expected.items():
        finding = problem(run, name)
        assert "cannot be parsed" in finding["message"]
        assert 1 <= finding["line"] <= lines
    assert len(expected) > 30


def test_truncated_terraform_at_every_position(tmp_path):
    folder = tree(tmp_path)
    written = build.truncated_terraform(folder)
    expected = {name for name, data in written.items() if _fails(lambda d: parse_hcl(d.decode(), "t.tf"), data)}
    run = bounded_run(folder, "--no-prefilter")
    assert_beside_reported(run)
    assert set(problems(run)) == expected and len(expected) > 10
    for name in expected:
        message = problem(run, name)["message"]
        assert "cannot be parsed: unexpected" in message and "Token(" not in message, message


def test_hcl_syntax_errors_read_like_a_person_wrote_them(tmp_path):
    folder = tree(tmp_path)
    build.hcl_syntax_errors(folder)
    run = bounded_run(folder)
    lines = len(BAD_TF.read_text().splitlines())
    extra = problem(run, "extra/main.tf")
    assert (
        extra["message"] == f"extra/main.tf (line {lines + 1}, column 1) cannot be parsed: unexpected '}}' (expected end of file)"
    )
    assert problem(run, "open/main.tf")["message"].endswith("cannot be parsed: unexpected end of file (expected '}')")
    assert (
        problem(run, "value/main.tf")["message"]
        == "value/main.tf (line 2, column 16) cannot be parsed: unexpected '}' (expected a value)"
    )
    assert problem(run, "line/main.tf")["message"].endswith("cannot be parsed: unexpected end of line (expected a value)")
    assert "cannot be parsed" in problem(run, "string/main.tf")["message"]
    assert_beside_reported(run)


def test_binary_garbage_and_empty_files(tmp_path):
    folder = tree(tmp_path)
    build.binary_garbage(folder)
    run = bounded_run(folder, "--no-prefilter")
    assert set(problems(run)) == {"garbage-template.yaml", "garbage-template.json", "garbage/main.tf", "garbage/nul.tf"}
    assert "not readable as text" in problem(run, "garbage-template.yaml")["message"]
    assert "(line 1, column 1) cannot be parsed: unexpected '\\x00" in problem(run, "garbage/nul.tf")["message"]
    assert_beside_reported(run)


# --- nesting, aliases, size -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(build.NESTED))
def test_ten_thousand_levels_of_nesting(tmp_path, name):
    folder = tree(tmp_path)
    build.put(folder, name, build.NESTED[name])
    run = bounded_run(folder)
    message = problem(run, name)["message"]
    assert any(word in message for word in ("nest", "deep")), message
    assert_beside_reported(run)


def test_deep_values_inside_a_resource_are_refused_before_the_checks(tmp_path):
    """libyaml accepts 900 levels; the checks walk values recursively, so the resource is IBP000 instead."""
    folder = tree(tmp_path)
    text = BESIDE.read_text().replace("KmsKeyId: alias/aws/ebs", "KmsKeyId: " + "{a: " * 900 + "1" + "}" * 900)
    (folder / "deep.yaml").write_text(text)
    run = bounded_run(folder)
    assert problem(run, "deep.yaml")["message"] == (
        "deep.yaml (line 4, column 3) GoldenRecipe has values nested more than 100 levels deep; not checked"
    )
    assert_beside_reported(run)


def test_alias_bomb(tmp_path):
    folder = tree(tmp_path)
    build.alias_bomb(folder)
    run = bounded_run(folder)
    assert "aliases expand to more than 250,000 values (an alias bomb?)" in problem(run, "bomb.yaml")["message"]
    assert_beside_reported(run)


def test_terraform_locals_that_double_at_every_step_stop_at_the_memory_limit(tmp_path, monkeypatch):
    """Terraform's alias bomb: each local names the previous one twice. Evaluating it would need 2**30 values."""
    monkeypatch.setenv("IBPOLICY_LINT_MEMORY_LIMIT_MB", "100")  # the default (350 MB) stops it too, in ~3 s
    folder = tree(tmp_path)
    build.doubling_locals(folder)
    run = bounded_run(folder)
    assert problem(run, "bomb/main.tf")["message"] == (
        "bomb/main.tf is part of the root module bomb, which needed more than 100 MB of memory while it was evaluated; "
        "not checked"
    )
    assert_beside_reported(run)


def test_fifty_megabyte_files_are_refused_unread(tmp_path):
    folder = tree(tmp_path)
    build.fifty_megabytes(folder)
    run = bounded_run(folder)
    assert problem(run, "big.yaml")["message"] == "big.yaml is larger than 2 MB, the limit for a template; not checked"
    assert problem(run, "big.json")["message"] == "big.json is larger than 2 MB, the limit for a template; not checked"
    assert (
        problem(run, "big/main.tf")["message"] == "big/main.tf is larger than 256 KB, the limit for a Terraform file; not checked"
    )
    assert_beside_reported(run)


# --- the time and memory limits (lowered so that inputs below the size caps reach them quickly) ----


def test_the_time_limit_interrupts_libyaml_and_the_hcl_parser(tmp_path, monkeypatch):
    monkeypatch.setenv("IBPOLICY_LINT_TIME_LIMIT_SECONDS", "0.2")
    folder = tree(tmp_path)
    build.put(folder, "slow.yaml", build.kms_keys_template(20_000))  # ~1.6 MB: about 2 s to read
    build.put(folder, "slow/main.tf", build.kms_keys_terraform(2_000))  # ~200 KB: about 2 s to parse
    run = bounded_run(folder)
    assert problem(run, "slow.yaml")["message"] == "slow.yaml took longer than 0.2 s while it was read; not checked"
    assert problem(run, "slow/main.tf")["message"] == "slow/main.tf took longer than 0.2 s while it was parsed; not checked"
    assert_beside_reported(run)


def test_the_memory_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("IBPOLICY_LINT_MEMORY_LIMIT_MB", "30")
    folder = tree(tmp_path)
    build.put(folder, "large.yaml", build.kms_keys_template(20_000))  # ~1.6 MB: ~100 MB to hold
    run = bounded_run(folder)
    assert problem(run, "large.yaml")["message"] == "large.yaml needed more than 30 MB of memory while it was read; not checked"
    assert_beside_reported(run)


# --- awkward text -------------------------------------------------------------------------------------


def _findings_at(run: Run, file: str) -> set[tuple[str, int]]:
    """A file's findings; IBP903 is left out: it is reported once per target account, in whichever file comes first."""
    return {(f["rule"], f["line"]) for f in run.findings if f["file"] == file and f["rule"] != "IBP903"}


def test_boms_utf16_crlf_and_tabs(tmp_path):
    folder = tree(tmp_path)
    text = BESIDE.read_text()
    (folder / "utf16le.yaml").write_bytes(text.encode("utf-16"))
    (folder / "utf16be.yaml").write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    (folder / "bom-crlf.yaml").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    (folder / "utf16.json").write_bytes(BAD_JSON.read_text().encode("utf-16"))
    (folder / "tab-value.yaml").write_text(text.replace("Name: golden-al2023\n", "Name: 'golden\tal2023'\n", 1))
    (folder / "tab-indent.yaml").write_text(text.replace("      Name: golden-al2023", "\tName: golden-al2023", 1))
    (folder / "crlf").mkdir()
    (folder / "crlf" / "main.tf").write_bytes(b"\xef\xbb\xbf" + BAD_TF.read_text().replace("\n", "\r\n").encode())
    (folder / "tabs").mkdir()
    (folder / "tabs" / "main.tf").write_text(BAD_TF.read_text().replace("  ", "\t"))
    run = bounded_run(folder)
    for name in ("utf16le.yaml", "utf16be.yaml", "bom-crlf.yaml", "tab-value.yaml"):
        assert ("IBP101", 16) in _findings_at(run, name), name
    original = bounded_run(BAD_JSON.parent, paths=("bad.json",))
    assert _findings_at(run, "utf16.json") == _findings_at(original, "bad.json")
    tab = problem(run, "tab-indent.yaml")
    assert (tab["line"], "cannot be parsed" in tab["message"]) == (7, True)
    assert ("IBP101", 14) in _findings_at(run, "crlf/main.tf")
    assert ("IBP101", 14) in _findings_at(run, "tabs/main.tf")
    assert set(problems(run)) == {"tab-indent.yaml"}


def test_yaml_11_traps_keep_their_source_text(tmp_path):
    folder = tree(tmp_path)
    text = BESIDE.read_text()
    # An account ID with a leading zero and only octal digits: YAML 1.1 would read the integer 1402433619.
    (folder / "octal.yaml").write_text(text.replace('- "111122223333"', "- 012345670123"))
    # yes/no/on/off as names and values: YAML 1.1 would read booleans.
    renamed = text.replace("GoldenRecipe", "on").replace("Name: golden-al2023\n      Version", "Name: yes\n      Version", 1)
    (folder / "booleans.yaml").write_text(renamed.replace("VolumeType: gp3", "VolumeType: off"))
    mapping = (FIXTURES / "managed-key-forms" / "find-in-map.yaml").read_text()
    mapping = (
        mapping.replace("RegionKeys", "no").replace("Volume: alias", "yes: alias").replace('Region", Volume]', 'Region", "yes"]')
    )
    (folder / "mapping.yaml").write_text(mapping)
    # Unquoted dates: a policy Version and the template format version.
    for name in ("narrow-root.yaml", "target-not-named.yaml"):
        quoted = (FIXTURES / "key-policies" / name).read_text()
        (folder / f"dates-{name}").write_text(quoted.replace('"2012-10-17"', "2012-10-17").replace('"2010-09-09"', "2010-09-09"))
    run = bounded_run(folder)
    assert not problems(run)
    (octal,) = [f for f in run.findings if f["file"] == "octal.yaml" and f["rule"] == "IBP101"]
    assert "account 012345670123" in octal["message"]
    (named,) = [f for f in run.findings if f["file"] == "booleans.yaml" and f["rule"] == "IBP101"]
    assert named["message"].startswith("on volume /dev/xvda") and named["line"] == 16
    (mapped,) = [f for f in run.findings if f["file"] == "mapping.yaml" and f["rule"] == "IBP101"]
    assert "mapping no" in mapped["message"] and mapped["line"] == 20
    quoted = bounded_run(FIXTURES / "key-policies", paths=("narrow-root.yaml", "target-not-named.yaml"))
    for name in ("narrow-root.yaml", "target-not-named.yaml"):
        assert _findings_at(run, f"dates-{name}") == _findings_at(quoted, name) != set()


def test_duplicate_keys_name_both_lines(tmp_path):
    folder = tree(tmp_path)
    build.duplicate_keys(folder)
    run = bounded_run(folder)
    assert problem(run, "twice.yaml")["message"] == (
        "twice.yaml: key 'Name' appears twice (lines 7 and 8); "
        "CloudFormation's behaviour is undefined, this linter read the last one"
    )
    assert "key 'Name' appears twice (lines 8 and 8)" in problem(run, "twice.json")["message"]
    assert ("IBP101", 17) in _findings_at(run, "twice.yaml")  # the template is still checked
    many = [f["message"] for f in run.findings if f["file"] == "many.yaml" and f["rule"] == "IBP000"]
    assert "many.yaml: key 'Description' appears twice (lines 6 and 7)" in many[0], many[:3]
    assert_beside_reported(run)


def test_an_argument_set_twice_in_terraform_is_refused_as_terraform_refuses_it(tmp_path):
    folder = tree(tmp_path)
    build.argument_set_twice(folder)
    run = bounded_run(folder)
    assert problem(run, "twice/main.tf")["message"] == (
        "twice/main.tf (line 7, column 3) cannot be parsed: the argument name is set twice (lines 6 and 7); "
        "Terraform accepts each argument once"
    )
    assert_beside_reported(run)


def test_nothing_read_is_executed(tmp_path):
    folder = tree(tmp_path)
    marker = Path("/tmp") / f"ibpolicy-lint-pwned-{uuid.uuid4().hex}"
    (folder / "python-tags.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        f'Metadata:\n  a: !!python/object/apply:os.system ["touch {marker}"]\n'
        f"  b: !!python/object/new:os.system [touch {marker}]\n"
        "  c: !!python/name:os.system\n"
        f'  d: !!python/object/apply:subprocess.check_call [["touch", "{marker}"]]\n' + BESIDE.read_text().split("\n", 2)[2]
    )
    (folder / "evaluated").mkdir()
    (folder / "evaluated" / "main.tf").write_text(
        f'locals {{\n  a = "${{file("/etc/passwd")}}"\n  b = templatefile("{marker}", {{}})\n}}\n' + BAD_TF.read_text()
    )
    run = bounded_run(folder)
    assert not marker.exists()
    assert not problems(run)
    assert ("IBP101", 20) in _findings_at(run, "python-tags.yaml")
    assert_beside_reported(run)


# --- the file system ----------------------------------------------------------------------------------


def test_file_system_hazards(tmp_path):
    folder = tree(tmp_path)
    build.file_system_hazards(folder)
    run = bounded_run(folder)
    expected = {}
    for name in ("broken.yaml", "tf/broken.tf"):
        expected[name] = f"{name} is a broken symbolic link; not read"
    for name in ("loop-a.yaml", "loop-b.yaml", "self.yaml", "tf/loop-a.tf", "tf/loop-b.tf", "tf/self.tf"):
        expected[name] = f"{name} is a symbolic link loop; not read"
    for name in ("fifo.yaml", "tf/fifo.tf"):
        expected[name] = f"{name} is not a regular file (a FIFO, socket or device)"
    assert problems(run) == expected  # the symlinked folder and the link to /dev/zero are not followed
    assert_beside_reported(run)
    assert ("IBP101", 14) in _findings_at(run, "tf/main.tf")  # the Terraform root beside the hazards is still read
    assert_beside_reported(run, f"{build.UNICODE_FOLDER}/tëmplate one.yaml")
    assert_beside_reported(run, "bytes-\\xff\\xfe.yaml")
    for report in ("text", "sarif", "github", "junit"):
        other = run_cli("--format", report, ".", cwd=folder, timeout=60)
        assert other.returncode == 1 and not other.stderr, (report, other.stderr)
        assert "bytes-\\xff\\xfe.yaml" in other.stdout or "bytes-%5Cxff%5Cxfe.yaml" in other.stdout, report


def test_devices_and_fifos_named_on_the_command_line(tmp_path):
    folder = tree(tmp_path)
    (folder / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.json")
    run = bounded_run(folder, paths=("zero.yaml", "pipe.json", "beside.yaml"))
    assert set(problems(run)) == {"zero.yaml", "pipe.json"}
    assert_beside_reported(run)


def test_unreadable_files_and_folders(tmp_path):
    folder = tree(tmp_path)
    locked = build.unreadable(folder)
    try:
        if not build.reads_are_refused(folder / "locked.yaml"):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not stop this process reading")
        run = bounded_run(folder)
        assert problems(run) == {
            "locked.yaml": "locked.yaml cannot be read: Permission denied",
            "locked/main.tf": "locked/main.tf cannot be read: Permission denied",
            "closed": "closed cannot be listed: Permission denied",
        }
        assert_beside_reported(run)
    finally:
        for path in locked:
            path.chmod(stat.S_IRWXU)


def test_a_folder_of_ten_thousand_files(tmp_path):
    folder = tree(tmp_path)
    read = build.ten_thousand_files(folder)
    shutil.copy(BESIDE, folder / "crowd" / "file-05000.yaml")  # in place of one of the templates
    run = bounded_run(folder)
    assert not problems(run)
    assert_beside_reported(run)
    assert_beside_reported(run, "crowd/file-05000.yaml")
    assert run.report["summary"]["files"] == 1 + read  # beside.yaml and the crowd's templates and .tf files, nothing else


# --- one file's bug is that file's finding --------------------------------------------------------


def _scan_in_process(folder: Path, monkeypatch):
    from ibpolicy_lint.scan import ScanOptions, scan

    monkeypatch.chdir(folder)
    monkeypatch.delenv("IBPOLICY_LINT_DEBUG", raising=False)
    return scan(ScanOptions(paths=["."]))


def test_an_unexpected_exception_in_one_template_is_that_files_finding(tmp_path, monkeypatch):
    from ibpolicy_lint import cloudformation

    folder = tree(tmp_path)
    shutil.copy(BESIDE, folder / "cursed.yaml")
    real = cloudformation.load_template

    def load_template(root, display, *args, **kwargs):
        if display == "cursed.yaml":
            raise KeyError("Properties")
        return real(root, display, *args, **kwargs)

    monkeypatch.setattr(cloudformation, "load_template", load_template)
    result = _scan_in_process(folder, monkeypatch)
    messages = {f.span.file: f.message for f in result.findings if f.rule == "IBP000"}
    assert messages == {
        "cursed.yaml": "cursed.yaml caused an internal error while it was read (KeyError: 'Properties'); "
        "not checked — please report this bug"
    }
    assert ("beside.yaml", "IBP101", 16) in {(f.span.file, f.rule, f.span.line) for f in result.findings}


def test_an_unexpected_exception_in_one_terraform_root_is_that_roots_finding(tmp_path, monkeypatch):
    from ibpolicy_lint import terraform

    folder = tree(tmp_path)
    for name in ("cursed", "fine"):
        (folder / name).mkdir()
        shutil.copy(BAD_TF, folder / name / "main.tf")
    real = terraform.TerraformLoader._load_root

    def load_root(self, module, planned):
        if module.display == "cursed":
            raise ValueError("no such thing")
        return real(self, module, planned)

    monkeypatch.setattr(terraform.TerraformLoader, "_load_root", load_root)
    handler = signal.getsignal(signal.SIGALRM)
    result = _scan_in_process(folder, monkeypatch)
    messages = {f.span.file: f.message for f in result.findings if f.rule == "IBP000"}
    assert messages == {
        "cursed/main.tf": "cursed/main.tf is part of the root module cursed, which caused an internal error while it was "
        "evaluated (ValueError: no such thing); not checked — please report this bug"
    }
    reported = {(f.span.file, f.rule, f.span.line) for f in result.findings}
    assert {("fine/main.tf", "IBP101", 14), ("beside.yaml", "IBP101", 16)} <= reported
    assert signal.getsignal(signal.SIGALRM) is handler and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# --- the watchdog itself ---------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="the watchdog needs setitimer (Unix)")
def test_budgets_nest_restore_the_previous_handler_and_do_nothing_off_the_main_thread():
    previous = signal.signal(signal.SIGALRM, signal.SIG_IGN)
    try:

        def spin(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass

        assert limits.contained(lambda: spin(1.0), "while it was read", seconds=0.2) == (
            None,
            "took longer than 0.2 s while it was read; not checked",
        )
        # The outer budget runs out while an inner one is active: the outer one reports it.
        inner_result = []
        outer = limits.contained(
            lambda: inner_result.append(limits.contained(lambda: spin(1.0), "inner", seconds=5)), "outer", seconds=0.3
        )
        assert outer == (None, "took longer than 0.3 s outer; not checked") and inner_result == []
        assert signal.getsignal(signal.SIGALRM) == signal.SIG_IGN
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        off_main = []
        thread = threading.Thread(target=lambda: off_main.append(limits.contained(lambda: spin(0.3), "x", seconds=0.1)))
        thread.start()
        thread.join()
        assert off_main == [(None, None)]  # no watchdog off the main thread: only the size caps apply
    finally:
        signal.signal(signal.SIGALRM, previous)


# --- fuzzing: mutated fixtures keep the contract ---------------------------------------------------

FUZZED = {
    "mutant/template.yaml": BESIDE.read_bytes(),
    "mutant/template.json": BAD_JSON.read_bytes(),
    "mutant/tf/main.tf": BAD_TF.read_bytes(),
    "mutant/policies.yaml": (FIXTURES / "key-policies" / "root-and-targets.yaml").read_bytes(),
}
INTERESTING = list(b"{}[]():,\"'\n\r\t -!&*#%@`|>\\$=?") + [0, 0xFF, 0xEF, 0xBB, 0xBF, 0xC3]

mutation = st.tuples(
    st.sampled_from(("flip", "delete", "insert")),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.integers(min_value=1, max_value=40),
    st.lists(st.sampled_from(INTERESTING), min_size=1, max_size=8),
)


def mutate(data: bytes, mutations) -> bytes:
    buffer = bytearray(data)
    for kind, where, length, inserted in mutations:
        position = int(where * len(buffer)) if buffer else 0
        if kind == "flip" and buffer:
            buffer[position] ^= 1 << (length % 8)
        elif kind == "delete":
            del buffer[position : position + length]
        else:
            buffer[position:position] = bytes(inserted)
    return bytes(buffer)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.lists(mutation, min_size=1, max_size=4), min_size=len(FUZZED), max_size=len(FUZZED)))
def test_mutated_fixtures_keep_the_contract(tmp_path_factory, mutations):
    folder = tree(tmp_path_factory.mktemp("fuzz"))
    for (name, data), changes in zip(FUZZED.items(), mutations, strict=True):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(mutate(data, changes))
    run = bounded_run(folder, "--no-prefilter")
    for file in problems(run):
        assert file in FUZZED, (file, run.findings)
    assert_beside_reported(run)
    json.dumps(run.report)  # the report is JSON through and through
