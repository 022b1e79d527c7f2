"""The scan cache: a repeated scan reports exactly what a fresh one would, and any change is seen."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hostile_inputs import kms_keys_template

from conftest import SCENARIO_IDS, SCENARIOS, mark_cache_entries, run_cli

PIPELINE = """
resource "aws_imagebuilder_image_recipe" "golden" {
  name         = "golden"
  version      = "1.0.0"
  parent_image = "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-x86/x.x.x"
  block_device_mapping {
    device_name = "/dev/xvda"
    ebs {
      encrypted  = true
      kms_key_id = local.volume_key
    }
  }
}

resource "aws_imagebuilder_distribution_configuration" "golden" {
  name = "golden-to-workloads"
  distribution {
    region = "us-east-1"
    ami_distribution_configuration {
      target_account_ids = ["111122223333"]
    }
  }
}

resource "aws_imagebuilder_image_pipeline" "golden" {
  name                             = "golden"
  image_recipe_arn                 = aws_imagebuilder_image_recipe.golden.arn
  distribution_configuration_arn   = aws_imagebuilder_distribution_configuration.golden.arn
  infrastructure_configuration_arn = "arn:aws:imagebuilder:us-east-1:444455556666:infrastructure-configuration/build"
}
"""

ROOT = """
provider "aws" {
  region = "us-east-1"
}

module "golden" {
  source = "../modules/golden"
}
"""

MANAGED_KEY = 'locals {\n  volume_key = "alias/aws/ebs"\n}\n'
OWN_KEY = 'locals {\n  volume_key = "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"\n}\n'


@pytest.fixture
def cache(tmp_path) -> dict:
    """A cache folder of the test's own, as the environment that points the tool at it."""
    return {"IBPOLICY_LINT_CACHE_DIR": str(tmp_path / "cache")}


def scan(path: Path, cache: dict, *extra: str):
    return run_cli("--format", "json", *extra, path.name, cwd=path.parent, env=cache)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def live(tmp_path) -> Path:
    """A root module calling a module that lives outside the folder scanned."""
    write(tmp_path / "live" / "main.tf", ROOT)
    write(tmp_path / "modules" / "golden" / "main.tf", PIPELINE)
    return tmp_path / "live"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_a_cached_scan_reports_what_a_fresh_one_does(scenario, cache):
    folder = Path(cache["IBPOLICY_LINT_CACHE_DIR"])
    fresh = run_cli("--no-cache", ".", cwd=scenario)
    first = run_cli(".", cwd=scenario, env=cache)
    entries = {entry: entry.stat().st_mtime_ns for entry in folder.rglob("*.json")}
    assert entries, "the first scan left no cache entry"
    again = run_cli(".", cwd=scenario, env=cache)
    assert {entry: entry.stat().st_mtime_ns for entry in folder.rglob("*.json")} == entries, (
        "the second scan did not reuse the first one's entry"
    )
    # The text report quotes each offending line, so a cached scan must still find the source text.
    assert (first.returncode, first.stdout) == (fresh.returncode, fresh.stdout)
    assert (again.returncode, again.stdout) == (fresh.returncode, fresh.stdout)


def test_a_changed_module_outside_the_scanned_folder_is_seen(live, cache):
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    assert "IBP101" in scan(live, cache).rules
    write(live.parent / "modules" / "golden" / "locals.tf", OWN_KEY)
    assert "IBP101" not in scan(live, cache).rules


@pytest.mark.parametrize("options", [(), ("--no-prefilter",)], ids=["prefilter", "no-prefilter"])
def test_a_file_added_to_a_module_folder_is_seen(live, cache, options):
    assert "IBP101" not in scan(live, cache, *options).rules
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    assert "IBP101" in scan(live, cache, *options).rules


def test_a_deleted_file_is_seen(live, cache):
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    assert "IBP101" in scan(live, cache).rules
    (live.parent / "modules" / "golden" / "locals.tf").unlink()
    assert "IBP101" not in scan(live, cache).rules


def test_a_changed_configuration_is_seen(live, cache):
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    assert "IBP101" in scan(live, cache).rules
    write(live.parent / ".ibpolicy-lint.yaml", "ignore: [IBP101]\n")
    assert "IBP101" not in scan(live, cache).rules


def test_different_options_do_not_share_an_entry(live, cache):
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    assert "IBP101" in scan(live, cache).rules
    assert scan(live, cache, "--select", "IBP9").rules == [rule for rule in scan(live, cache).rules if rule.startswith("IBP9")]


def test_a_damaged_cache_entry_is_scanned_again(live, cache):
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    expected = scan(live, cache).findings
    for entry in Path(cache["IBPOLICY_LINT_CACHE_DIR"]).rglob("*.json"):
        entry.write_bytes(b"\x00{not json")
    assert scan(live, cache).findings == expected


def test_no_cache_leaves_nothing_behind(live, cache):
    scan(live, cache, "--no-cache")
    assert not Path(cache["IBPOLICY_LINT_CACHE_DIR"]).exists()


def test_a_cache_folder_that_cannot_be_made_only_costs_speed(live, tmp_path):
    (tmp_path / "a-file").write_text("")
    cache = {"IBPOLICY_LINT_CACHE_DIR": str(tmp_path / "a-file" / "cache")}  # even root cannot make this folder
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    run = scan(live, cache)
    assert run.returncode == 1 and "IBP101" in run.rules and run.stderr == ""


def test_a_scan_that_ran_out_of_time_is_not_remembered(tmp_path, cache):
    """Running out of time depends on the machine's load: the next run must try again."""
    write(tmp_path / "slow" / "template.yaml", kms_keys_template(20_000))  # about 2 s to read: 40 times the limit
    run = run_cli("--format", "json", "slow", cwd=tmp_path, env={**cache, "IBPOLICY_LINT_TIME_LIMIT_SECONDS": "0.05"})
    assert [finding["message"] for finding in run.findings] == [
        "slow/template.yaml took longer than 0.05 s while it was read; not checked"
    ]
    assert not list(Path(cache["IBPOLICY_LINT_CACHE_DIR"]).rglob("*.json"))
    assert run_cli("--format", "json", "slow", cwd=tmp_path, env=cache).findings == []


def test_a_touched_but_unchanged_file_still_reuses_the_entry(live, cache):
    """A ``git checkout`` or a restored CI cache changes times, not content: the same entry answers."""
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    first = scan(live, cache)
    entries = set(Path(cache["IBPOLICY_LINT_CACHE_DIR"]).rglob("*.json"))
    # Mark what the entry stores: a reused entry reports the marked messages, a new scan the real ones.
    assert mark_cache_entries(cache["IBPOLICY_LINT_CACHE_DIR"], "[stored] ") == len(first.findings) > 0
    for path in [live / "main.tf", *(live.parent / "modules" / "golden").iterdir()]:
        path.write_bytes(path.read_bytes())  # new modification and change times, same bytes
    again = scan(live, cache)
    assert again.findings == [{**finding, "message": "[stored] " + finding["message"]} for finding in first.findings], (
        "the touched files were scanned again instead of reusing the entry"
    )
    assert set(Path(cache["IBPOLICY_LINT_CACHE_DIR"]).rglob("*.json")) == entries, "a second entry was made"


def test_same_size_edits_are_seen(live, cache):
    write(live.parent / "modules" / "golden" / "locals.tf", MANAGED_KEY)
    assert "IBP101" in scan(live, cache).rules
    path = live.parent / "modules" / "golden" / "locals.tf"
    original = path.stat()
    path.write_text(MANAGED_KEY.replace("alias/aws/ebs", "alias/own/ebs"))  # same length
    os.utime(path, ns=(original.st_atime_ns, original.st_mtime_ns))  # and the old modification time
    assert "IBP101" not in scan(live, cache).rules
