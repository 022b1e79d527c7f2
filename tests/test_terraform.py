"""Terraform evaluation that a scenario folder cannot show well: values the loader gives the model, a
usage error for --var-file, and the cache seeing a module that ``terraform init`` vendors later.

Each test writes real Terraform files and reads them with the real loader or command line.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli
from ibpolicy_lint import terraform, terraform_plan
from ibpolicy_lint.documents import parse_json
from ibpolicy_lint.model import DistributionConfiguration, EbsEncryptionByDefault, KmsKey, Role
from ibpolicy_lint.source import SourceText, Span
from ibpolicy_lint.values import Choice, Text, Unknown, field_of, literal_text, members


def load(folder: Path, files: dict[str, str]) -> list:
    """The resources the loader reads from ``files`` written into ``folder``."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    text = SourceText()
    sources = terraform.Sources(str, text.add, text.note)
    resources = terraform.TerraformLoader(sources, []).load([folder.resolve()])
    assert sources.problems == []
    return resources


def only(resources: list, kind: type):
    found = [resource for resource in resources if isinstance(resource, kind)]
    assert len(found) == 1, found
    return found[0]


def leaves(value) -> dict[str, object]:
    """A choice's outcomes and their literal (or Unknown) leaves, e.g. {"true": "b", "false": "a"}."""
    assert isinstance(value, Choice), value
    return {outcome: branch if isinstance(branch, Unknown) else literal_text(branch) for outcome, branch in value.branches}


# --- functions run in every branch of their arguments' conditions (finding 7) -------------------------


def test_try_skips_a_missing_attribute_in_one_branch_only(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "custom" { type = bool }
            locals { names = {} }
            resource "aws_iam_role" "r" {
              name               = try(var.custom ? local.names.custom : "standard", "fallback")
              assume_role_policy = "{}"
            }
            """
        },
    )
    assert leaves(only(resources, Role).role_name) == {"true": "fallback", "false": "standard"}


# --- no invented values (finding 11) -------------------------------------------------------------------


def test_division_by_zero_is_not_known(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            resource "aws_iam_role" "r" {
              name               = "role-${10 / 0}"
              path               = "/${10 % 0}/"
              assume_role_policy = "{}"
            }
            """
        },
    )
    role = only(resources, Role)
    assert isinstance(role.role_name, Unknown) and "division by zero" in role.role_name.reason
    assert isinstance(role.path, Unknown)


def test_a_principal_type_that_is_not_known_makes_the_principal_not_known(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "kind" { type = string }
            data "aws_iam_policy_document" "key" {
              statement {
                actions   = ["kms:*"]
                resources = ["*"]
                principals {
                  type        = var.kind
                  identifiers = ["arn:aws:iam::111122223333:root"]
                }
                condition {
                  test     = "StringEquals"
                  variable = var.kind
                  values   = ["x"]
                }
              }
            }
            resource "aws_kms_key" "k" {
              policy = data.aws_iam_policy_document.key.json
            }
            """
        },
    )
    statement = members(field_of(only(resources, KmsKey).policy, "Statement"))[0][1]
    assert isinstance(field_of(statement, "Principal"), Unknown)
    assert isinstance(field_of(statement, "Condition", "StringEquals"), Unknown)


def test_instances_past_the_limit_are_one_unknown_instance(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            resource "aws_imagebuilder_distribution_configuration" "d" {
              count = 70
              name  = "d-${count.index}"
              distribution {
                region = "us-east-1"
              }
            }
            """
        },
    )
    configurations = [r for r in resources if isinstance(r, DistributionConfiguration)]
    assert len(configurations) == 65
    last = configurations[-1]
    assert isinstance(last.configuration_name, Unknown) and "6 more instances" in last.configuration_name.reason


def test_dynamic_blocks_past_the_limit_say_how_many_are_left_out(tmp_path):
    accounts = ", ".join(f'"{111122223300 + i}"' for i in range(70))
    resources = load(
        tmp_path,
        {
            "main.tf": """
            locals { accounts = [ACCOUNTS] }
            resource "aws_imagebuilder_distribution_configuration" "d" {
              name = "d"
              distribution {
                region = "us-east-1"
                dynamic "launch_template_configuration" {
                  for_each = local.accounts
                  content {
                    account_id = launch_template_configuration.value
                  }
                }
              }
            }
            """.replace("ACCOUNTS", accounts)
        },
    )
    accounts = only(resources, DistributionConfiguration).entries[0].launch_template_accounts
    assert len(accounts) == 65
    assert isinstance(accounts[-1], Unknown) and "6 more items" in accounts[-1].reason


def test_jsondecode_of_json_nested_too_deeply_is_not_known(tmp_path):
    deep = "[" * 5000 + "]" * 5000
    resources = load(
        tmp_path,
        {
            "main.tf": """
            resource "aws_iam_role" "r" {
              name               = jsondecode("DEEP")
              assume_role_policy = "{}"
            }
            """.replace("DEEP", deep)
        },
    )
    name = only(resources, Role).role_name
    assert isinstance(name, Unknown) and "nested too deeply" in name.reason


def test_indexes_terraform_refuses_name_nothing(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            resource "aws_iam_role" "a" {
              count              = 2
              name               = "a${count.index}"
              assume_role_policy = "{}"
            }
            resource "aws_iam_role" "r" {
              name               = try(["x", "y"][-1], ["x", "y"][1e400], ["x", "y"][0.5], "fallback")
              path               = aws_iam_role.a[1e400].name
              assume_role_policy = "{}"
            }
            """
        },
    )
    role = next(r for r in resources if isinstance(r, Role) and r.name == "aws_iam_role.r")
    assert literal_text(role.role_name) == "fallback"
    assert isinstance(role.path, Unknown)


# --- a resource's own Region (finding 3) and provider settings in a plan (finding 8) ---------------------


def test_a_planned_resource_in_its_own_region_and_an_assumed_role_account(tmp_path):
    plan = {
        "format_version": "1.2",
        "planned_values": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_kms_key.europe",
                        "mode": "managed",
                        "type": "aws_kms_key",
                        "name": "europe",
                        "values": {"region": "eu-west-1", "key_usage": "ENCRYPT_DECRYPT"},
                    },
                    {
                        "address": "aws_kms_key.home",
                        "mode": "managed",
                        "type": "aws_kms_key",
                        "name": "home",
                        "values": {"region": "us-east-1"},
                    },
                ]
            }
        },
        "configuration": {
            "provider_config": {
                "aws": {
                    "name": "aws",
                    "expressions": {
                        "region": {"constant_value": "us-east-1"},
                        "assume_role": [{"role_arn": {"constant_value": "arn:aws:iam::111122223333:role/deploy"}}],
                    },
                }
            },
            "root_module": {"resources": []},
        },
    }
    root = parse_json(json.dumps(plan).encode(), "plan.json").root
    keys = {key.name: key for key in terraform_plan.load_plan(root, "plan.json")}
    europe, home = keys["aws_kms_key.europe"].deployment, keys["aws_kms_key.home"].deployment
    assert (home.account, home.region) == ("111122223333", "us-east-1")
    assert (europe.account, europe.region) == ("111122223333", "eu-west-1")


def test_a_planned_region_known_only_after_apply_is_not_the_providers():
    key = {"address": "aws_kms_key.k", "mode": "managed", "type": "aws_kms_key", "name": "k", "values": {}}
    plan = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [key]}},
        "resource_changes": [{"address": "aws_kms_key.k", "change": {"after_unknown": {"region": True}}}],
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}}},
            "root_module": {"resources": []},
        },
    }
    root = parse_json(json.dumps(plan).encode(), "plan.json").root
    deployment = only(terraform_plan.load_plan(root, "plan.json"), KmsKey).deployment
    assert deployment.region is None


def test_values_a_plan_leaves_out_are_known_only_after_apply():
    distribution = {
        "address": "aws_imagebuilder_distribution_configuration.d",
        "mode": "managed",
        "type": "aws_imagebuilder_distribution_configuration",
        "name": "d",
        "values": {
            "name": "d",
            "distribution": [
                {"region": "us-east-1", "ami_distribution_configuration": [{"target_account_ids": ["111122223333", None]}]}
            ],
        },
    }
    plan = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [distribution]}},
        "resource_changes": [
            {
                "address": "aws_imagebuilder_distribution_configuration.d",
                "change": {
                    "after_unknown": {
                        "distribution": [
                            {"ami_distribution_configuration": [{"target_account_ids": [False, True], "kms_key_id": True}]}
                        ]
                    }
                },
            }
        ],
    }
    root = parse_json(json.dumps(plan).encode(), "plan.json").root
    entry = only(terraform_plan.load_plan(root, "plan.json"), DistributionConfiguration).entries[0]
    first, second = (item for _, item in members(entry.target_account_ids))
    assert literal_text(first) == "111122223333"
    assert isinstance(second, Unknown) and "known only after apply" in second.reason
    assert isinstance(entry.kms_key_id, Unknown) and "kms_key_id is known only after apply" in entry.kms_key_id.reason


def test_a_region_the_sources_do_not_give_is_not_the_providers(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            provider "aws" { region = "us-east-1" }
            variable "region" { type = string }
            resource "aws_kms_key" "k" { region = var.region }
            """
        },
    )
    deployment = only(resources, KmsKey).deployment
    assert deployment.region is None and deployment.account_reference() == deployment.provider.account_reference()


# --- variable definitions files hold literal values (finding 6) --------------------------------------------


def test_a_var_file_with_a_function_call_is_a_usage_error(tmp_path):
    (tmp_path / "main.tf").write_text('variable "name" {\n  type = string\n}\n')
    (tmp_path / "given.tfvars").write_text('name = "literal"\nother = upper(var.name)\n')
    run = run_cli("--var-file", "given.tfvars", ".", cwd=tmp_path)
    assert run.returncode == 2
    assert "given.tfvars (line 2)" in run.stderr and "Function calls not allowed" in run.stderr
    assert "internal error" not in run.stderr


# --- the cache sees a module vendored after the scan (finding 13) ---------------------------------------------

REGISTRY_CALLER = """
provider "aws" {
  region = "us-east-1"
}

module "image" {
  source  = "acme/golden-image/aws"
  version = "1.2.0"
}
"""

VENDORED = """
resource "aws_imagebuilder_image_recipe" "this" {
  name         = "golden"
  version      = "1.2.0"
  parent_image = "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-x86/x.x.x"
  block_device_mapping {
    device_name = "/dev/xvda"
    ebs {
      encrypted  = true
      kms_key_id = "alias/aws/ebs"
    }
  }
}

resource "aws_imagebuilder_distribution_configuration" "this" {
  name = "golden"
  distribution {
    region = "us-east-1"
    ami_distribution_configuration {
      target_account_ids = ["444455556666"]
    }
  }
}

resource "aws_imagebuilder_image_pipeline" "this" {
  name                             = "golden"
  image_recipe_arn                 = aws_imagebuilder_image_recipe.this.arn
  distribution_configuration_arn   = aws_imagebuilder_distribution_configuration.this.arn
  infrastructure_configuration_arn = "arn:aws:imagebuilder:us-east-1:999988887777:infrastructure-configuration/shared"
}
"""


@pytest.mark.parametrize("caller", ["root", "child module"])
def test_a_module_vendored_after_a_cached_scan_is_read(tmp_path, caller):
    # terraform init writes the manifest in the root's folder, also for a registry module a child module calls.
    key = "image" if caller == "root" else "app.image"
    for options in (["--no-prefilter"], []):
        root = tmp_path / ("plain" if not options else "no-prefilter") / "live"
        (root / ".terraform" / "modules").mkdir(parents=True)  # the folder exists: only the manifest appears
        if caller == "root":
            (root / "main.tf").write_text(REGISTRY_CALLER)
        else:
            (root / "main.tf").write_text('module "app" {\n  source = "./app"\n}\n')
            (root / "app").mkdir()
            (root / "app" / "main.tf").write_text(REGISTRY_CALLER)
        env = {"IBPOLICY_LINT_CACHE_DIR": str(tmp_path / "cache")}
        before = run_cli("--format", "json", *options, "live", cwd=root.parent, env=env)
        assert [f["rule"] for f in before.findings if f["severity"] != "info"] == []
        vendored = root / ".terraform" / "modules" / key
        vendored.mkdir()
        (vendored / "main.tf").write_text(VENDORED)
        manifest = {"Modules": [{"Key": "", "Dir": "."}, {"Key": key, "Dir": f".terraform/modules/{key}"}]}
        (root / ".terraform" / "modules" / "modules.json").write_text(json.dumps(manifest))
        after = run_cli("--format", "json", *options, "live", cwd=root.parent, env=env)
        assert "IBP101" in [f["rule"] for f in after.findings], options


def test_json_expressions_keep_their_text_for_messages():
    expression = terraform.syntax.parse_expression("var.flag ? aws_kms_key.a.arn : null", "main.tf.json", _SPAN)
    assert expression.text == "var.flag" and expression.yes.text == "aws_kms_key.a.arn"
    assert expression.span == _SPAN and expression.yes.span == _SPAN


_SPAN = Span("main.tf.json", 3, 7, 3, 40)


def test_reference_names_in_both_syntaxes():
    span = _SPAN
    hcl = terraform.syntax.parse_expression("aws.europe", "main.tf", span)
    interpolated = terraform.syntax.json_expression(Text(parts=("${aws.europe}",), span=span), "main.tf.json")
    literal = terraform.syntax.json_expression(Text(parts=("aws.europe",), span=span), "main.tf.json")
    assert {terraform._reference_name(e) for e in (hcl, interpolated, literal)} == {"aws.europe"}


# --- file() reads anywhere in the scanned tree ----------------------------------------------------------

KEY_READ_FROM_A_FILE = """
    resource "aws_kms_key" "image" {
      policy = file("../policies/key-policy.json")
    }

    resource "aws_imagebuilder_distribution_configuration" "to_workloads" {
      name = "to-workloads"
      distribution {
        region = "us-east-1"
        ami_distribution_configuration {
          kms_key_id         = aws_kms_key.image.arn
          target_account_ids = ["111122223333"]
        }
      }
    }
"""

ADMIN_ONLY_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "kms:*", "Resource": "*"}
    ],
}


def test_file_reads_a_scanned_folder_the_pre_filter_skips_from_any_working_folder(tmp_path):
    """The key policy lives in policies/, beside an IAM-only module the pre-filter does not parse; the scan
    is started from outside the tree. The policy is still read, so IBP202 is an error, not an info."""
    tree = tmp_path / "infra"
    (tree / "pipeline").mkdir(parents=True)
    (tree / "pipeline" / "main.tf").write_text(textwrap.dedent(KEY_READ_FROM_A_FILE))
    (tree / "policies").mkdir()
    (tree / "policies" / "key-policy.json").write_text(json.dumps(ADMIN_ONLY_KEY_POLICY))
    (tree / "policies" / "main.tf").write_text('resource "aws_iam_policy" "reader" {\n  policy = "{}"\n}\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for options in ((), ("--no-prefilter",)):
        report = json.loads(run_cli("--no-cache", "--format", "json", *options, str(tree), cwd=elsewhere).stdout)
        key_policy = [(f["rule"], f["severity"]) for f in report["findings"] if f["rule"] == "IBP202"]
        assert key_policy == [("IBP202", "error")], (options, report["findings"])


# --- instances at one address: one resource per cause ------------------------------------------------


def test_instances_at_one_address_in_every_branch_are_one_resource(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "external" { type = bool }
            resource "aws_iam_role" "r" {
              for_each           = var.external ? { main = "outside" } : { main = "inside" }
              name               = each.value
              path               = "/"
              assume_role_policy = "{}"
            }
            """
        },
    )
    role = only(resources, Role)
    assert role.condition == frozenset()
    assert leaves(role.role_name) == {"true": "outside", "false": "inside"}
    assert literal_text(role.path) == "/"  # the same in every branch, and one instance always exists


def test_instances_at_one_address_in_some_branches_stay_apart(tmp_path):
    # One instance when var.share is true, var.copies (not given) otherwise: in no branch is one of them sure
    # to exist, so one role for both would hide a missing role where none exists.
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "share" { type = bool }
            variable "copies" { type = number }
            resource "aws_iam_role" "r" {
              count              = var.share ? 1 : var.copies
              name               = "shared"
              assume_role_policy = "{}"
            }
            """
        },
    )
    roles = [resource for resource in resources if isinstance(resource, Role)]
    assert sorted(sorted(role.condition) for role in roles) == [
        [("count of aws_iam_role.r", "not 0"), ("var.share", "false")],
        [("var.share", "true")],
    ]
    assert all(literal_text(role.role_name) == "shared" for role in roles)


def test_a_key_at_one_address_in_some_branches_is_not_one_key_everywhere(tmp_path):
    # Merged, the key would exist where neither instance does, its policy read as the default key policy.
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "share" { type = bool }
            variable "copies" { type = number }
            resource "aws_kms_key" "k" {
              count       = var.share ? 1 : (var.copies > 2 ? 1 : 0)
              description = "x"
            }
            """
        },
    )
    keys = [resource for resource in resources if isinstance(resource, KmsKey)]
    assert sorted(sorted(key.condition) for key in keys) == [
        [("var.copies > 2", "true"), ("var.share", "false")],
        [("var.share", "true")],
    ]


def test_a_reference_to_instances_kept_apart_names_the_instance_of_its_branch(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "share" { type = bool }
            variable "copies" { type = number }
            resource "aws_kms_key" "k" {
              count       = var.share ? 1 : var.copies
              description = "x"
            }
            resource "aws_imagebuilder_distribution_configuration" "d" {
              name = "d"
              distribution {
                region = "us-east-1"
                ami_distribution_configuration {
                  kms_key_id = aws_kms_key.k[0].arn
                }
              }
            }
            """
        },
    )
    keys = {resource.key for resource in resources if isinstance(resource, KmsKey)}
    assert len(keys) == 2
    named = set()
    pending = [only(resources, DistributionConfiguration).entries[0].kms_key_id]
    while pending:
        value = pending.pop()
        if isinstance(value, Choice):
            pending += [branch for _, branch in value.branches]
        elif isinstance(value, Text):
            named.add(value.symbol.resource)
    assert named == keys


def test_instances_that_may_exist_together_stay_apart(tmp_path):
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "a" { type = string }
            variable "b" { type = string }
            resource "aws_iam_role" "r" {
              for_each           = toset([var.a, var.b])
              name               = each.key
              assume_role_policy = "{}"
            }
            """
        },
    )
    assert len([resource for resource in resources if isinstance(resource, Role)]) == 2


def test_encryption_by_default_at_one_address_stays_apart(tmp_path):
    # An instance missing in a branch must not count there as a setting whose enabled defaults to true.
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "share" { type = bool }
            variable "copies" { type = number }
            resource "aws_ebs_encryption_by_default" "on" {
              count   = var.share ? 1 : var.copies
              enabled = true
            }
            """
        },
    )
    settings = [resource for resource in resources if isinstance(resource, EbsEncryptionByDefault)]
    assert sorted(len(setting.condition) for setting in settings) == [1, 2]


# --- a decision is named by where its undecided value comes from ---------------------------------------


def test_one_root_variable_tested_in_two_modules_is_one_decision(tmp_path):
    module = """
    variable "x" { type = bool }
    resource "aws_iam_role" "r" {
      name               = var.x ? "on" : "off"
      assume_role_policy = "{}"
    }
    """
    resources = load(
        tmp_path,
        {
            "main.tf": """
            variable "settings" { type = object({ enabled = bool, other = bool }) }
            module "a" {
              source = "./m"
              x      = var.settings.enabled
            }
            module "b" {
              source = "./m"
              x      = var.settings["enabled"]
            }
            module "c" {
              source = "./m"
              x      = var.settings.other
            }
            module "d" {
              source = "./m"
              x      = !var.settings.enabled
            }
            """,
            "m/main.tf": module,
        },
    )
    subjects = {role.name: role.role_name.subject for role in resources if isinstance(role, Role)}
    assert subjects["module.a.aws_iam_role.r"] == subjects["module.b.aws_iam_role.r"] == "var.settings.enabled"
    assert subjects["module.c.aws_iam_role.r"] == "var.settings.other"
    assert subjects["module.d.aws_iam_role.r"] == "var.x in module.d"  # another value: named where it is tested


def test_a_vendored_module_under_a_module_whose_name_ends_in_module(tmp_path):
    manifest = {
        "Modules": [
            {"Key": "", "Source": "", "Dir": "."},
            {"Key": "base_module", "Source": "./app", "Dir": "app"},
            {"Key": "base_module[0].image", "Source": "example/image/aws", "Dir": ".terraform/modules/wrong"},
            {"Key": "base_module.image", "Source": "example/image/aws", "Dir": ".terraform/modules/image"},
        ]
    }
    resources = load(
        tmp_path,
        {
            "main.tf": """
            module "base_module" {
              source = "./app"
              count  = 1
            }
            """,
            "app/main.tf": """
            module "image" {
              source = "example/image/aws"
            }
            """,
            ".terraform/modules/modules.json": json.dumps(manifest),
            ".terraform/modules/image/main.tf": 'resource "aws_iam_role" "vendored" { assume_role_policy = "{}" }',
        },
    )
    assert only(resources, Role).name == "module.base_module.module.image.aws_iam_role.vendored"


def test_a_plan_reference_without_an_index_names_a_counted_resource_only_when_it_has_one_instance():
    """Plan references drop the index (aws_kms_key.k for aws_kms_key.k[0]): with several instances, which one
    is meant cannot be told, and the value stays known only after apply."""
    one = terraform_plan._Completion("plan.json", "", {"aws_kms_key.k[0]"}, "aws_x.y")
    several = terraform_plan._Completion("plan.json", "", {"aws_kms_key.k[0]", "aws_kms_key.k[1]"}, "aws_x.y")
    assert one.reference("aws_kms_key.k.arn").resource == "plan.json::aws_kms_key.k[0]"
    assert several.reference("aws_kms_key.k.arn") is None
