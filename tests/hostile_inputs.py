"""Broken and hostile input, written into a folder: the one set of builders behind tests/test_hostile.py
(what the linter reports for such input) and bench/hostile.py (what it costs).

Standard library only, and no import of the linter: bench/hostile.py runs these builders with whichever
Python runs the benchmark. Each builder writes into an existing folder; the files' names are part of what
the tests assert.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BESIDE = FIXTURES / "ibp101-recipe-managed-key" / "bad.yaml"  # IBP101 at line 16
BAD_JSON = FIXTURES / "ibp101-recipe-managed-key" / "bad.json"
BAD_TF = FIXTURES / "tf-ibp101-recipe-managed-key" / "bad" / "main.tf"  # IBP101 at line 14

YAML_HEAD = b"AWSTemplateFormatVersion: '2010-09-09'\n"
JSON_HEAD = b'{"AWSTemplateFormatVersion": "2010-09-09", '
KMS_KEY_TF = b'resource "aws_kms_key" "k" {\n'  # a resource type the Terraform pre-filter lets through
KMS_KEY_YAML = YAML_HEAD + b"Resources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n"
# One KMS key each: resources a rule reads (templates of other types are only syntax-checked).
KEY_YAML = "  Key{i}:\n    Type: AWS::KMS::Key\n    Properties:\n      Description: k{i}\n"
KEY_TF = 'resource "aws_kms_key" "k{i}" {{\n  description = "key {i}"\n  tags = {{ a = "b", c = [1, 2, 3] }}\n}}\n'
DEPTH = 10_000


def put(folder: Path, name: str, data: bytes | str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def put_all(folder: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    for name, data in files.items():
        put(folder, name, data)
    return files


def fill(head: bytes, item: Callable[[int], bytes], tail: bytes, limit: int) -> bytes:
    """``head`` + ``item(0)`` + ``item(1)`` + ... + ``tail``, as many items as keep it under ``limit`` bytes."""
    parts, size, index = [head], len(head) + len(tail), 0
    while size + len(piece := item(index)) < limit:
        parts.append(piece)
        size, index = size + len(piece), index + 1
    return b"".join([*parts, tail])


# --- malformed and truncated documents ---------------------------------------------------------------


def truncated_documents(folder: Path) -> dict[str, bytes]:
    """BESIDE and BAD_JSON cut at every 37th byte: ``cut-yaml/NNNNN.yaml`` and ``cut-json/NNNNN.json``."""
    files = {}
    for source, suffix in ((BESIDE, "yaml"), (BAD_JSON, "json")):
        data = source.read_bytes()
        files |= {f"cut-{suffix}/{cut:05}.{suffix}": data[:cut] for cut in range(1, len(data), 37)}
    return put_all(folder, files)


def truncated_terraform(folder: Path) -> dict[str, bytes]:
    """BAD_TF cut at every 41st byte, each cut a root module of its own: ``cut/NNNNN/main.tf``."""
    data = BAD_TF.read_bytes()
    return put_all(folder, {f"cut/{cut:05}/main.tf": data[:cut] for cut in range(1, len(data), 41)})


def hcl_syntax_errors(folder: Path) -> None:
    """A stray brace at the end, an unclosed block, a missing value (before ``}`` and at the end), an unclosed string."""
    put(folder, "extra/main.tf", BAD_TF.read_bytes() + b"}\n")
    put(folder, "open/main.tf", KMS_KEY_TF + b'  description = "x"\n')
    put(folder, "value/main.tf", KMS_KEY_TF + b"  description =\n}\n")
    put(folder, "line/main.tf", KMS_KEY_TF + b"  description = \n")
    put(folder, "string/main.tf", KMS_KEY_TF + b'  description = "never closed\n}\n')


def binary_garbage(folder: Path) -> None:
    """4 KB of noise, with and without template markers, NUL bytes, and empty, blank and BOM-only files."""
    noise = random.Random(7).randbytes(4096)
    put(folder, "garbage.yaml", noise)  # no template markers: not a template, skipped
    put(folder, "garbage-template.yaml", YAML_HEAD + noise)
    put(folder, "garbage-template.json", JSON_HEAD + noise)
    put(folder, "garbage/main.tf", KMS_KEY_TF + noise)
    put(folder, "garbage/nul.tf", b"\x00" * 100)
    for name in ("empty.yaml", "empty.json", "empty.template", "empty/main.tf"):
        put(folder, name, b"")
    for name in ("blank.yaml", "blank/main.tf"):
        put(folder, name, b" \n\t\n\r\n")
    for name in ("bom.yaml", "bom/main.tf"):
        put(folder, name, b"\xef\xbb\xbf")


def noise_at_the_caps(folder: Path, document_cap: int, terraform_cap: int) -> None:
    """Noise just under the size caps, and valid UTF-8 made of the parsers' own punctuation ("token soup"),
    so that they tokenise it before they give up."""
    noise = random.Random(7).randbytes
    put(folder, "noise-at-cap.yaml", YAML_HEAD + noise(document_cap - 1024))
    put(folder, "noise-at-cap/main.tf", KMS_KEY_TF + noise(terraform_cap - 1024))
    soup = "".join(random.Random(8).choices("{}[]()=:,.\"'&*!|>-#$ \n\tab1", k=terraform_cap - 1024)).encode()
    put(folder, "soup.yaml", YAML_HEAD + soup)
    put(folder, "soup/main.tf", KMS_KEY_TF + soup)


def fifty_megabytes(folder: Path) -> None:
    """50 MB of comment lines after a template's or a Terraform resource's first line."""
    megabyte = (b"# " + b"x" * 1021 + b"\n") * 1024
    for name, head in (
        ("big.yaml", YAML_HEAD),
        ("big.json", JSON_HEAD + b"\n"),
        ("big/main.tf", b'resource "aws_imagebuilder_image_recipe" "r" {\n'),
    ):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        with open(folder / name, "wb") as stream:
            stream.write(head)
            for _ in range(50):
                stream.write(megabyte)


# --- nesting, aliases, size --------------------------------------------------------------------------

NESTED = {  # 10,000 levels of nesting each
    "flow.yaml": KMS_KEY_YAML + b"      Tags: " + b"[" * DEPTH + b"]" * DEPTH + b"\n",
    "block.yaml": YAML_HEAD + b"Metadata:\n" + b"- " * DEPTH + b"x\n",  # "- - - x": block sequences
    "deep.json": JSON_HEAD + b'"Metadata": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    "hcl/main.tf": KMS_KEY_TF + b"  policy = " + b"[" * DEPTH + b"]" * DEPTH + b"\n}\n",
    "blocks/main.tf": KMS_KEY_TF + b"a {\n" * DEPTH + b"}\n" * DEPTH + b"}\n",
    "operators/main.tf": KMS_KEY_TF + b"  description = " + b" + ".join([b"1"] * DEPTH) + b"\n}\n",
    "json/main.tf.json": b'{"resource": {"aws_kms_key": {"k": {"policy": ' + b"[" * DEPTH + b"]" * DEPTH + b"}}}}",
}


def alias_bomb(folder: Path) -> None:
    """``bomb.yaml``: nine anchors, each a list of nine aliases of the one before: 9**9 values."""
    lines = ["AWSTemplateFormatVersion: '2010-09-09'", "Metadata:", "  a: &a [" + ", ".join(["lol"] * 9) + "]"]
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    put(folder, "bomb.yaml", "\n".join(lines) + "\n")


def doubling_locals(folder: Path) -> None:
    """``bomb/main.tf``: BAD_TF's volume key is local.l30, and each local names the previous one twice (2**30 values)."""
    text = BAD_TF.read_text()
    assert 'kms_key_id  = "alias/aws/ebs"' in text, "the Terraform fixture changed"
    locals_ = "".join(f"  l{i} = [local.l{i - 1}, local.l{i - 1}]\n" for i in range(1, 31))
    text = text.replace('kms_key_id  = "alias/aws/ebs"', "kms_key_id  = local.l30")
    put(folder, "bomb/main.tf", text + 'locals {\n  l0 = "x"\n' + locals_ + "}\n")


def kms_keys_template(keys: int) -> str:
    """A template of ``keys`` KMS keys: 20,000 are ~1.6 MB (under the 2 MB cap) and take about 2 s to read."""
    return YAML_HEAD.decode() + "Resources:\n" + "".join(KEY_YAML.format(i=i) for i in range(keys))


def kms_keys_terraform(keys: int) -> str:
    """``keys`` aws_kms_key blocks: 2,000 are ~200 KB (under the 256 KB cap) and take about 2 s to parse."""
    return "".join(KEY_TF.format(i=i) for i in range(keys))


def dense_template_resources(folder: Path, document_cap: int) -> None:
    put(
        folder, "dense.yaml", fill(YAML_HEAD + b"Resources:\n", lambda i: KEY_YAML.format(i=i).encode(), b"", document_cap - 1024)
    )


def dense_template_values(folder: Path, document_cap: int) -> None:
    put(folder, "dense.yaml", fill(KMS_KEY_YAML + b"      Tags: [0", lambda i: b",0", b"]\n", document_cap - 1024))


def dense_terraform_resources(folder: Path, terraform_cap: int) -> None:
    put(folder, "dense/main.tf", fill(b"", lambda i: KEY_TF.format(i=i).encode(), b"", terraform_cap - 1024))


def dense_terraform_values(folder: Path, terraform_cap: int) -> None:
    put(folder, "dense/main.tf", fill(KMS_KEY_TF + b"  policy = [0", lambda i: b",0", b"]\n}\n", terraform_cap - 1024))


# --- the file system -----------------------------------------------------------------------------------

UNICODE_FOLDER = "with space, ünïcødé 日本"


def file_system_hazards(folder: Path) -> None:
    """Broken, looping and self-referring links and FIFOs, named .yaml at the top and .tf in ``tf/`` (beside
    BAD_TF, so that the pre-filter reads that folder); a symlinked folder; a link to /dev/zero; BESIDE copied
    under a name with spaces and non-ASCII letters, and under a name that is not UTF-8 (``bytes-\\xff\\xfe.yaml``)."""
    for sub, suffix in ((folder, "yaml"), (folder / "tf", "tf")):
        sub.mkdir(exist_ok=True)
        (sub / f"broken.{suffix}").symlink_to(f"nowhere.{suffix}")
        (sub / f"loop-a.{suffix}").symlink_to(f"loop-b.{suffix}")
        (sub / f"loop-b.{suffix}").symlink_to(f"loop-a.{suffix}")
        (sub / f"self.{suffix}").symlink_to(f"self.{suffix}")
        os.mkfifo(sub / f"fifo.{suffix}")
    shutil.copy(BAD_TF, folder / "tf" / "main.tf")
    (folder / "folder-loop").symlink_to(".")  # a symlinked folder: never followed
    (folder / "device.yaml").symlink_to("/dev/zero")  # outside the tree: not read
    (folder / UNICODE_FOLDER).mkdir()
    shutil.copy(BESIDE, folder / UNICODE_FOLDER / "tëmplate one.yaml")
    with open(os.fsencode(folder) + b"/bytes-\xff\xfe.yaml", "wb") as stream:
        stream.write(BESIDE.read_bytes())


def unreadable(folder: Path) -> list[Path]:
    """``locked.yaml`` and ``locked/main.tf`` (failing templates) and the folder ``closed``, all chmod 000.
    Returns them, so that the caller can give their permissions back."""
    shutil.copy(BESIDE, folder / "locked.yaml")
    put(folder, "locked/main.tf", BAD_TF.read_bytes())
    put(folder, "closed/inside.yaml", BESIDE.read_bytes())
    locked = [folder / "locked.yaml", folder / "locked" / "main.tf", folder / "closed"]
    for path in locked:
        path.chmod(0)
    return locked


def reads_are_refused(path: Path) -> bool:
    """False when running as root (or with CAP_DAC_OVERRIDE): then chmod 000 does not stop this process reading."""
    try:
        path.read_bytes()
    except PermissionError:
        return True
    return False


def ten_thousand_files(folder: Path) -> int:
    """``crowd/`` with 10,000 small files: templates without resources, .tf files without a resource (one root
    module of 2,000 files), and JSON, YAML and Markdown that are not templates. Returns how many are templates
    or Terraform files."""
    kinds = (
        ("yaml", YAML_HEAD + b"Resources: {}\n"),
        ("json", b"{}\n"),
        ("yml", b"name: value\n"),
        ("tf", b'variable "x" {}\n'),
        ("md", b"# notes\n"),
    )
    (folder / "crowd").mkdir()
    read = 0
    for index in range(10_000):
        suffix, data = kinds[index % len(kinds)]
        (folder / "crowd" / f"file-{index:05}.{suffix}").write_bytes(data)
        read += suffix in ("yaml", "tf")
    return read


def duplicate_keys(folder: Path) -> None:
    """A key twice in BESIDE (``twice.yaml``) and BAD_JSON (``twice.json``), and one key 10,000 times (``many.yaml``)."""
    text = BESIDE.read_text()
    put(folder, "twice.yaml", text.replace("      Name: golden-al2023\n", "      Name: golden-al2023\n      Name: again\n", 1))
    data = BAD_JSON.read_text()
    put(folder, "twice.json", data.replace('"Name": "golden-al2023",', '"Name": "golden-al2023", "Name": "again",', 1))
    put(folder, "many.yaml", KMS_KEY_YAML + b"      Description: x\n" * 10_000)


def argument_set_twice(folder: Path) -> None:
    """``twice/main.tf``: BAD_TF with the recipe's ``name`` set twice (lines 6 and 7)."""
    text = BAD_TF.read_text()
    put(folder, "twice/main.tf", text.replace('  name         = "golden"\n', '  name         = "golden"\n  name = "again"\n', 1))
