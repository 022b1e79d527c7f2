"""IBP1xx: the key that encrypts the image, and IBP901/IBP902 where the sources cannot tell.

RULES.md section 3, "IBP1xx — the encryption key".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..estate import Estate, Wire
from ..findings import Finding, Severity
from ..kms import DEFAULT_EBS_ALIAS, KeyForm, KeyIdentity, KeyKind, Region, Unresolved, identify_key, region_of_deployment
from ..model import (
    Deployment,
    DistributionConfiguration,
    DistributionEntry,
    EbsDefaultKey,
    EbsEncryptionByDefault,
    ImageRecipe,
    Volume,
)
from ..sharing import (
    EntryView,
    Recipient,
    describe_recipients,
    region_of,
    regions_away_from_build,
    regions_differ,
    view_entry,
    views_of,
)
from ..values import Assumption, RegionOf, Text, Unknown, Value, World, alternatives, as_bool, holds, is_absent, select
from ..verdicts import Undecided, Verdict, Violated, judge
from . import emits

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


# --- what the checks share ---------------------------------------------------------------------


@dataclass(frozen=True)
class Exposure:
    """A key that cannot leave the source account, and who the image goes to."""

    key: KeyIdentity
    recipients: list[Recipient]
    distributions: list[str]


@dataclass(frozen=True)
class Doubt:
    """What the sources do not say, where it is, and what to verify."""

    value: Value
    what: str
    verify: str


def _from(value: Value | None) -> str:
    return f" (from {value.origin})" if value is not None and value.origin else ""


def _shown(value: Value | None) -> str:
    if isinstance(value, Unknown):
        return f"a value the sources do not give ({value.reason})"
    return value.shown() if isinstance(value, Text) else "?"


def _volume_name(recipe: ImageRecipe, volume: Volume) -> str:
    device = _shown(volume.device)
    return f"{recipe.name} volume {device}" if device != "?" else f"a volume of {recipe.name}"


def _names(views: list[EntryView]) -> str:
    return " and ".join(dict.fromkeys(view.configuration.name for view in views))


def _wired_volumes(estate: Estate) -> Iterator[tuple[ImageRecipe, list[Wire], Volume]]:
    """Every volume of every recipe that a pipeline or image distributes."""
    for recipe in estate.all(ImageRecipe):
        wires = estate.wires_from(recipe)
        if wires:
            for volume in recipe.volumes:
                yield recipe, wires, volume


def _entries(estate: Estate) -> Iterator[tuple[DistributionConfiguration, DistributionEntry]]:
    for configuration in estate.all(DistributionConfiguration):
        for entry in configuration.entries:
            yield configuration, entry


def _volume_exists(recipe: ImageRecipe, volume: Volume, world: World) -> bool:
    return holds(recipe.condition | volume.condition, world)


def _wired_views(wires: list[Wire], world: World) -> list[EntryView]:
    views: list[EntryView] = []
    for wire in wires:
        if holds(wire.condition, world):
            views.extend(views_of(wire.distribution, world))
    return views


def _others(views: list[EntryView]) -> list[Recipient]:
    return [recipient for view in views for recipient in view.others()]


def _undetermined(views: list[EntryView]) -> list[Recipient]:
    return [recipient for view in views for recipient in view.undetermined()]


def _exposure(key_value: Value | None, views: list[EntryView], estate: Estate, rule: str):
    """Violated when an AWS managed key meets another account; undecided when either is unknown."""
    identity = identify_key(key_value, estate) if key_value is not None else None
    if identity is None:
        return None
    others = _others(views)
    doubt = _key_doubt(identity, others, rule, "its KMS key")
    if doubt is not None:
        return Undecided(doubt)
    if isinstance(identity, KeyIdentity) and identity.kind is KeyKind.AWS_MANAGED:
        if others:
            cross = [view.configuration.name for view in views if view.is_cross_account]
            return Violated(Exposure(identity, others, cross))
        unknown = _undetermined(views)
        if unknown:
            return Undecided(_unknown_recipient(unknown[0], f"the AWS managed key {identity.shown}", rule))
    return None


def _key_doubt(identity: KeyIdentity | Unresolved, others: list[Recipient], rule: str, whose: str) -> Doubt | None:
    """What to verify when a key whose kind the sources do not give encrypts an image for other accounts."""
    if not others:
        return None
    goes = describe_recipients(others, verbs=False)
    if isinstance(identity, Unresolved):
        return Doubt(
            identity.value,
            f"{whose} cannot be resolved ({identity.reason}), and the image goes to {goes}",
            f"If it is an AWS managed key such as {DEFAULT_EBS_ALIAS}, the distribution fails ({rule}): "
            "verify that it is a customer managed key.",
        )
    if identity.kind is KeyKind.UNKNOWN:
        return Doubt(
            identity.value,
            f"{whose} {identity.shown} is not defined in the scanned sources, so its kind is unknown, and the image goes to "
            f"{goes}",
            f"If it is an AWS managed key, the distribution fails ({rule}): verify that it is a customer managed key.",
        )
    return None


def _unknown_recipient(recipient: Recipient, key: str, rule: str) -> Doubt:
    return Doubt(
        recipient.value,
        f"it is encrypted with {key}, and the sources do not say who receives the image ({recipient.reason})",
        f"If that is another account, the distribution fails ({rule}): verify that it is the source account, "
        "or use a customer managed key.",
    )


def _doubt_finding(verdict: Verdict, resource: str) -> Iterator[Finding]:
    """An IBP901 info finding for the first thing the sources do not say, when nothing is certainly wrong."""
    if verdict.violated or not verdict.undecided:
        return
    doubt: Doubt = verdict.undecided[0][1]
    yield Finding("IBP901", INFO, f"{resource}: {doubt.what}{_from(doubt.value)}. {doubt.verify}", doubt.value.span, resource)


@dataclass(frozen=True)
class DefaultKey:
    """The account's default EBS key in a Region, as the sources set it."""

    setting: EbsDefaultKey
    identity: KeyIdentity | Unresolved | None

    @property
    def is_customer(self) -> bool:
        return isinstance(self.identity, KeyIdentity) and self.identity.kind is KeyKind.CUSTOMER

    @property
    def managed(self) -> KeyIdentity | None:
        """The AWS managed key the default is set to, if it is one."""
        if isinstance(self.identity, KeyIdentity) and self.identity.kind is KeyKind.AWS_MANAGED:
            return self.identity
        return None

    def doubt(self, others: list[Recipient], rule: str) -> Doubt | None:
        if self.identity is None:
            return None
        return _key_doubt(self.identity, others, rule, f"the account's default EBS key (set by {self.setting.name})")


def _default_ebs_key(estate: Estate, deployment: Deployment, world: World) -> DefaultKey | None:
    """The account's default EBS key in the deployment's Region, when the sources set it."""
    for setting in estate.all(EbsDefaultKey):
        if _same_place(setting.deployment, deployment) and holds(setting.condition, world):
            value = select(setting.default_key, world)
            return DefaultKey(setting, identify_key(value, estate) if value is not None else None)
    return None


def _encryption_by_default(estate: Estate, deployment: Deployment, world: World) -> EbsEncryptionByDefault | None:
    for setting in estate.all(EbsEncryptionByDefault):
        if _same_place(setting.deployment, deployment) and holds(setting.condition, world):
            enabled = select(setting.enabled, world)
            if is_absent(enabled) or as_bool(enabled) is True:
                return setting
    return None


def _same_place(first: Deployment, second: Deployment) -> bool:
    """Same account and Region: the same deployment, or both known and equal."""
    if first is second or first.key == second.key:
        return True
    return None not in (first.account, first.region) and (first.account, first.region) == (second.account, second.region)


def _is_customer_key(value: Value | None, estate: Estate) -> bool:
    identity = identify_key(value, estate) if value is not None else None
    return isinstance(identity, KeyIdentity) and identity.kind is KeyKind.CUSTOMER


# --- IBP101 / IBP102: an AWS managed key on a cross-account image -------------------------------


@emits("IBP101", "IBP901")
def managed_key_on_recipe_volume(estate: Estate) -> Iterator[Finding]:
    for recipe, wires, volume in _wired_volumes(estate):
        if volume.kms_key_id is None:
            continue

        def decide(world: World):
            if not _volume_exists(recipe, volume, world):
                return None
            return _exposure(select(volume.kms_key_id, world), _wired_views(wires, world), estate, "IBP101")

        verdict = judge(decide)
        name = _volume_name(recipe, volume)
        if verdict.violated:
            exposure: Exposure = verdict.first()
            yield Finding(
                "IBP101",
                verdict.severity(ERROR),
                f"{name} is encrypted with the AWS managed key {exposure.key.shown}{_from(exposure.key.value)}, "
                f"and {' and '.join(dict.fromkeys(exposure.distributions))} {describe_recipients(exposure.recipients)}"
                f"{verdict.condition()}: snapshots encrypted with an AWS managed key cannot be shared.",
                exposure.key.value.span,
                recipe.name,
            )
        yield from _doubt_finding(verdict, name)


@emits("IBP102", "IBP901")
def managed_key_on_distribution(estate: Estate) -> Iterator[Finding]:
    for configuration, entry in _entries(estate):
        if entry.kms_key_id is None:
            continue

        def decide(world: World):
            view = view_entry(entry, configuration, world)
            return _exposure(view.kms_key_id, [view], estate, "IBP102") if view else None

        verdict = judge(decide)
        region = _entry_region(entry)
        if verdict.violated:
            exposure: Exposure = verdict.first()
            yield Finding(
                "IBP102",
                verdict.severity(ERROR),
                f"{configuration.name} encrypts the {region} copy with the AWS managed key {exposure.key.shown}"
                f"{_from(exposure.key.value)} and {describe_recipients(exposure.recipients)}{verdict.condition()}: "
                "AWS managed keys cannot be shared with other accounts.",
                exposure.key.value.span,
                configuration.name,
            )
        yield from _doubt_finding(verdict, f"The {region} entry of {configuration.name}")


# --- IBP103 / IBP104: the account's default EBS key ---------------------------------------------


@emits("IBP103", "IBP901")
def default_key_on_encrypted_volume(estate: Estate) -> Iterator[Finding]:
    for recipe, wires, volume in _wired_volumes(estate):
        if volume.encrypted is None:
            continue

        def decide(world: World):
            if not _volume_exists(recipe, volume, world):
                return None
            encrypted = select(volume.encrypted, world)
            if as_bool(encrypted) is not True or not is_absent(select(volume.kms_key_id, world)):
                return None
            default_key = _default_ebs_key(estate, recipe.deployment, world)
            if default_key is not None and default_key.is_customer:
                return None
            views = _wired_views(wires, world)
            others = _others(views)
            doubt = default_key.doubt(others, "IBP103") if default_key is not None else None
            if doubt is not None:
                return Undecided(doubt)
            if others:
                return Violated((views, others, default_key.managed if default_key else None, encrypted))
            unknown = _undetermined(views)
            if unknown:
                return Undecided(
                    _unknown_recipient(unknown[0], f"the default EBS key ({DEFAULT_EBS_ALIAS} unless changed)", "IBP103")
                )
            return None

        verdict = judge(decide)
        name = _volume_name(recipe, volume)
        if verdict.violated:
            views, others, managed_default, encrypted = verdict.first()
            default = (
                f"the account's default EBS key, which the sources set to the AWS managed key {managed_default.shown}"
                if managed_default
                else f"the account's default EBS key ({DEFAULT_EBS_ALIAS} unless the account set a customer managed one)"
            )
            yield Finding(
                "IBP103",
                verdict.severity(ERROR if managed_default else WARNING),
                f"{name} is encrypted without a KMS key, so it uses {default}, and "
                f"{_names([v for v in views if v.is_cross_account])} {describe_recipients(others)}{verdict.condition()}.",
                encrypted.span,
                recipe.name,
            )
        yield from _doubt_finding(verdict, name)


@emits("IBP104", "IBP901")
def encryption_by_default(estate: Estate) -> Iterator[Finding]:
    for recipe in estate.all(ImageRecipe):
        wires = estate.wires_from(recipe)
        if not wires:
            continue
        units: list[Volume | None] = [*recipe.volumes] or [None]
        for volume in units:

            def decide(world: World):
                if not holds(recipe.condition | (volume.condition if volume else frozenset()), world):
                    return None
                # A volume that names a key (IBP101, or IBP901 when the key is unknown) or is encrypted
                # without one (IBP103) is left to those rules.
                if volume is not None and (
                    not is_absent(select(volume.kms_key_id, world)) or as_bool(select(volume.encrypted, world)) is True
                ):
                    return None
                setting = _encryption_by_default(estate, recipe.deployment, world)
                if setting is None:
                    return None
                default_key = _default_ebs_key(estate, recipe.deployment, world)
                if default_key is not None and default_key.is_customer:
                    return None
                views = _wired_views(wires, world)
                others = _others(views)
                doubt = default_key.doubt(others, "IBP104") if default_key is not None else None
                if doubt is not None:
                    return Undecided(doubt)
                return Violated((setting, views, others)) if others else None

            verdict = judge(decide)
            subject = _volume_name(recipe, volume) if volume else f"{recipe.name} (its volumes come from the parent image)"
            if verdict.violated:
                setting, views, others = verdict.first()
                yield Finding(
                    "IBP104",
                    verdict.severity(WARNING),
                    f"{setting.name} turns on EBS encryption by default with the default EBS key, so {subject} is "
                    f"encrypted with {DEFAULT_EBS_ALIAS}, and {_names([v for v in views if v.is_cross_account])} "
                    f"{describe_recipients(others)}{verdict.condition()}.",
                    volume.span if volume else recipe.span,
                    recipe.name,
                )
            yield from _doubt_finding(verdict, subject)


# --- IBP105 / IBP902: the parent image ------------------------------------------------------------


@emits("IBP105", "IBP902")
def parent_image_encryption(estate: Estate) -> Iterator[Finding]:
    for recipe in estate.all(ImageRecipe):
        wires = estate.wires_from(recipe)
        if not wires or recipe.parent_image is None:
            continue
        parents = estate.parent_recipes(recipe)

        def decide(world: World):
            if not holds(recipe.condition, world):
                return None
            views = _wired_views(wires, world)
            others = _others(views)
            if not others:
                return None
            present = [parent for assumption, parent in parents if holds(assumption | parent.condition, world)]
            if not present:
                parent_image = select(recipe.parent_image, world)
                if estate.is_amazon_owned_image(parent_image) or is_absent(parent_image):
                    return None
                return Undecided(Doubt(parent_image, describe_recipients(others), ""))
            for parent in present:
                for parent_volume in parent.volumes:
                    if not _volume_exists(parent, parent_volume, world):
                        continue
                    key = identify_key(select(parent_volume.kms_key_id, world), estate) if parent_volume.kms_key_id else None
                    if not (isinstance(key, KeyIdentity) and key.kind is KeyKind.AWS_MANAGED):
                        continue
                    device = _shown(select(parent_volume.device, world))
                    if not _reencrypts(recipe, device, world, estate):
                        return Violated((parent, device, key, others))
            return None

        verdict = judge(decide)
        if verdict.violated:
            parent, device, key, others = verdict.first()
            yield Finding(
                "IBP105",
                verdict.severity(WARNING),
                f"{recipe.name} builds on an image of {parent.name}, whose volume {device} is encrypted with the AWS managed "
                f"key {key.shown}, and does not re-encrypt {device} with a customer managed key, while the image "
                f"{describe_recipients(others)}{verdict.condition()}.",
                recipe.parent_image.span,
                recipe.name,
            )
        elif verdict.undecided:
            doubt: Doubt = verdict.undecided[0][1]
            yield Finding(
                "IBP902",
                INFO,
                f"{recipe.name} builds on {_shown(doubt.value)}{_from(doubt.value)}, whose encryption the sources do not show, "
                f"and the image {doubt.what}: verify that the parent AMI's snapshots are unencrypted or use a customer "
                "managed key that the target accounts may use.",
                doubt.value.span,
                recipe.name,
            )


def _reencrypts(recipe: ImageRecipe, device: str, world: World, estate: Estate) -> bool:
    return any(
        _volume_exists(recipe, volume, world)
        and _shown(select(volume.device, world)) == device
        and _is_customer_key(select(volume.kms_key_id, world), estate)
        for volume in recipe.volumes
    )


# --- IBP106 / IBP107 / IBP108: where and how a key is named -------------------------------------


@emits("IBP106")
def key_in_wrong_region(estate: Estate) -> Iterator[Finding]:
    for configuration in estate.all(DistributionConfiguration):
        for entry in configuration.entries:
            if entry.kms_key_id is None:
                continue

            def decide(world: World):
                view = view_entry(entry, configuration, world)
                identity = identify_key(view.kms_key_id, estate) if view and view.kms_key_id else None
                if not isinstance(identity, KeyIdentity):
                    return None
                away = regions_away_from_build(views_of(configuration, world))
                if regions_differ(identity.region, view.region, away):
                    return Violated((identity, view.region))
                return None

            verdict = judge(decide)
            if verdict.violated:
                identity, _ = verdict.first()
                yield Finding(
                    "IBP106",
                    verdict.severity(ERROR),
                    f"The {_entry_region(entry)} entry of {configuration.name} uses {identity.shown}{_from(identity.value)}, "
                    f"a key in {_region_name(identity.region, configuration.deployment, estate)}{verdict.condition()}: "
                    "a distribution key must be in the entry's Region.",
                    identity.value.span,
                    configuration.name,
                )
    for recipe in estate.all(ImageRecipe):
        build_region = region_of_deployment(recipe.deployment)
        for volume in recipe.volumes:
            if volume.kms_key_id is None:
                continue

            def decide_volume(world: World):
                if not _volume_exists(recipe, volume, world):
                    return None
                identity = identify_key(select(volume.kms_key_id, world), estate)
                if isinstance(identity, KeyIdentity) and regions_differ(identity.region, build_region):
                    return Violated(identity)
                return None

            verdict = judge(decide_volume)
            if verdict.violated:
                identity = verdict.first()
                yield Finding(
                    "IBP106",
                    verdict.severity(ERROR),
                    f"{_volume_name(recipe, volume)} uses {identity.shown}{_from(identity.value)}, a key in "
                    f"{_region_name(identity.region, recipe.deployment, estate)}, but the image is built in "
                    f"{_region_name(build_region, recipe.deployment, estate)}"
                    f"{verdict.condition()}.",
                    identity.value.span,
                    recipe.name,
                )


def _region_name(region: Region, build: Deployment, estate: Estate) -> str:
    """A Region as messages name it: literal, the build Region, or the Region of another deployment."""
    if isinstance(region, str):
        return region
    if isinstance(region, RegionOf):
        label = f" ({region.label})" if region.label != "region" else ""
        if region.deployment == build.key:
            return f"the build Region{label}"
        other = next((d.name for d in estate.deployments if d.key == region.deployment), "another deployment")
        return f"the Region of {other}{label}"
    return "an unknown Region"


def _entry_region(entry: DistributionEntry) -> str:
    """How messages name an entry: by its Region ('eu-west-1', 'build-Region'); a Region chosen by a
    condition by the Regions of its branches ('eu-west-1 or us-east-1')."""
    names = dict.fromkeys(_region_name_of(leaf) for _, leaf in alternatives(entry.region)) if entry.region else {}
    return " or ".join(names) or "?"


def _region_name_of(value: Value) -> str:
    region = region_of(value)
    if isinstance(region, RegionOf):
        return "build-Region"
    return region or _shown(value)


@emits("IBP107")
def key_not_named_by_arn(estate: Estate) -> Iterator[Finding]:
    for configuration, entry in _entries(estate):
        if entry.kms_key_id is None:
            continue

        def decide(world: World):
            view = view_entry(entry, configuration, world)
            copies = view.others(copies=True) if view else []
            identity = identify_key(view.kms_key_id, estate) if view and view.kms_key_id else None
            if copies and isinstance(identity, KeyIdentity) and identity.form in (KeyForm.KEY_ID, KeyForm.ALIAS_NAME):
                return Violated((identity, copies))
            return None

        verdict = judge(decide)
        if verdict.violated:
            identity, copies = verdict.first()
            yield Finding(
                "IBP107",
                verdict.severity(ERROR),
                f"{configuration.name} names its {_entry_region(entry)} key by {identity.form.value} ({identity.shown}"
                f"{_from(identity.value)}) and copies the image to {describe_recipients(copies, verbs=False)}"
                f"{verdict.condition()}: "
                "a bare key ID or alias name only resolves in the source account.",
                identity.value.span,
                configuration.name,
                fix=_arn_fix(identity),
            )


def _arn_fix(identity: KeyIdentity) -> str:
    resource = identity.resource
    if resource is not None and resource.arn_reference:
        return f"Use the ARN: {resource.arn_reference}."
    return "Use the key ARN or the alias ARN (arn:aws:kms:<region>:<account>:key/<id> or :alias/<name>)."


@emits("IBP108")
def key_not_symmetric(estate: Estate) -> Iterator[Finding]:
    reported: dict[tuple[str, str], Finding] = {}
    for user, key_value, condition in _ebs_key_uses(estate):

        def decide(world: World):
            if not holds(condition, world):
                return None
            identity = identify_key(select(key_value, world), estate)
            key = identity.key if isinstance(identity, KeyIdentity) else None
            if key is None or not holds(key.condition, world):
                return None
            for prop, expected in (("key_spec", "SYMMETRIC_DEFAULT"), ("key_usage", "ENCRYPT_DECRYPT")):
                setting = select(getattr(key, prop), world)
                literal = setting.literal if isinstance(setting, Text) else None
                if literal is not None and literal.strip().upper() != expected:
                    return Violated((key, setting, literal))
            return None

        verdict = judge(decide)
        if not verdict.violated:
            continue
        key, setting, literal = verdict.first()
        finding = Finding(
            "IBP108",
            verdict.severity(ERROR),
            f"{key.name} is a key of type {literal}, but {user} uses it to encrypt EBS snapshots{verdict.condition()}: "
            "EBS needs a symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT).",
            setting.span,
            key.name,
        )
        previous = reported.get((key.key, literal))
        if previous is None or previous.severity < finding.severity:
            reported[(key.key, literal)] = finding
    yield from reported.values()


def _ebs_key_uses(estate: Estate) -> Iterator[tuple[str, Value, Assumption]]:
    """Every place a key encrypts EBS: who, the key value, and the condition the place exists under."""
    for recipe in estate.all(ImageRecipe):
        for volume in recipe.volumes:
            if volume.kms_key_id is not None:
                yield recipe.name, volume.kms_key_id, recipe.condition | volume.condition
    for configuration in estate.all(DistributionConfiguration):
        for entry in configuration.entries:
            if entry.kms_key_id is not None:
                yield configuration.name, entry.kms_key_id, configuration.condition | entry.condition


# --- IBP109: a key without encryption -----------------------------------------------------------


@emits("IBP109")
def key_without_encrypted(estate: Estate) -> Iterator[Finding]:
    for recipe in estate.all(ImageRecipe):
        if recipe.key not in estate.built_recipes:
            continue  # a recipe no pipeline or image in the scan builds fails nothing here
        for volume in recipe.volumes:
            if volume.kms_key_id is None:
                continue

            def decide(world: World):
                if not _volume_exists(recipe, volume, world):
                    return None
                key = select(volume.kms_key_id, world)
                if is_absent(key) or isinstance(key, Unknown):
                    # An unknown key may be null; IBP901 says what to verify when the image leaves the account.
                    return None
                if is_absent(select(volume.encrypted, world)):
                    return Violated((key, None))
                return Violated((key, False)) if volume_encrypted(volume, world) is False else None

            verdict = judge(decide)
            if not verdict.violated:
                continue
            key, flag = verdict.first()
            explicitly_false = any(detail[1] is False for _, detail in verdict.violated)
            state = "marks it unencrypted" if explicitly_false else "does not mark it encrypted"
            yield Finding(
                "IBP109",
                verdict.severity(ERROR if explicitly_false else WARNING),
                f"{_volume_name(recipe, volume)} sets a KMS key ({_shown(key)}) but {state}{verdict.condition()}: "
                "the key is only used when the volume is encrypted.",
                key.span,
                recipe.name,
            )


# --- IBP110 / IBP111: launch permissions on encrypted images -------------------------------------


def volume_encrypted(volume: Volume, world: World) -> bool | None:
    """Whether the volume's own settings encrypt it; None when the sources do not say.

    ``Encrypted`` decides when it is a boolean (a key without it is ignored when it is false);
    unset, a key means encryption and no key none. An unknown flag, or an unknown key without
    a flag (it may be null), cannot be decided.
    """
    encrypted = select(volume.encrypted, world)
    if not is_absent(encrypted):
        return as_bool(encrypted)
    key = select(volume.kms_key_id, world)
    if is_absent(key):
        return False
    return None if isinstance(key, Unknown) else True


@dataclass(frozen=True)
class Encryption:
    """Whether a distributed image is encrypted: ``encrypted`` None when the sources do not say."""

    encrypted: bool | None
    why: str = ""  # why it is encrypted, or what the sources do not say
    value: Value | None = None  # the value the sources do not give


def _image_encryption(configuration: DistributionConfiguration, view: EntryView, world: World, estate: Estate) -> Encryption:
    """Whether the AMI an entry distributes is encrypted, and why."""
    unsure: Encryption | None = None
    if isinstance(view.kms_key_id, Unknown):
        unsure = Encryption(None, f"the entry's KMS key is {_shown(view.kms_key_id)}", view.kms_key_id)
    elif not is_absent(view.kms_key_id):
        return Encryption(True, f"the entry encrypts it with {_shown(view.kms_key_id)}")
    for wire in estate.wires_to(configuration):
        if not holds(wire.condition | wire.recipe.condition, world):
            continue
        for volume in wire.recipe.volumes:
            if not holds(volume.condition, world):
                continue
            state = volume_encrypted(volume, world)
            name = _volume_name(wire.recipe, volume)
            if state:
                return Encryption(True, f"{name} is encrypted")
            if state is None and unsure is None:
                flag = select(volume.encrypted, world)
                doubtful = flag if not is_absent(flag) else select(volume.kms_key_id, world)
                unsure = Encryption(None, f"whether {name} is encrypted depends on {_shown(doubtful)}", doubtful)
        if _encryption_by_default(estate, wire.recipe.deployment, world) is not None:
            return Encryption(True, "EBS encryption by default is on in the build account")
    return unsure or Encryption(False)


@emits("IBP110")
def public_encrypted_image(estate: Estate) -> Iterator[Finding]:
    for configuration in estate.all(DistributionConfiguration):
        for entry in configuration.entries:
            if entry.launch_permission.user_groups is None:
                continue

            def decide(world: World):
                view = view_entry(entry, configuration, world)
                public = [r for r in view.recipients if r.kind == "everyone"] if view else []
                if not public:
                    return None
                encryption = _image_encryption(configuration, view, world, estate)
                if encryption.encrypted:
                    return Violated((public[0], encryption.why))
                return Undecided((public[0], encryption))

            verdict = judge(decide)
            region = _entry_region(entry)
            if verdict.violated:
                everyone, reason = verdict.first()
                yield Finding(
                    "IBP110",
                    verdict.severity(ERROR),
                    f"{configuration.name} shares the {region} image with everyone (launch permission group all), but "
                    f"{reason}{verdict.condition()}: encrypted AMIs cannot be made public.",
                    everyone.value.span,
                    configuration.name,
                )
                continue
            doubts = [(everyone, e) for _, (everyone, e) in verdict.undecided if e.encrypted is None]
            if doubts:
                everyone, encryption = doubts[0]
                yield Finding(
                    "IBP110",
                    INFO,
                    f"{configuration.name} shares the {region} image with everyone (launch permission group all), and "
                    f"{encryption.why}{_from(encryption.value)}: verify that the image is not encrypted, "
                    "or the launch permission fails (encrypted AMIs cannot be made public).",
                    everyone.value.span,
                    configuration.name,
                )
            elif verdict.undecided:
                everyone, _ = verdict.undecided[0][1]
                yield Finding(
                    "IBP110",
                    INFO,
                    f"{configuration.name} shares the {region} image with everyone (launch permission group all): "
                    "verify that block public access for AMIs is turned off in the source account and Region, "
                    "or the launch permission is refused.",
                    everyone.value.span,
                    configuration.name,
                    fix="Turn off AMI block public access in that Region, or share with accounts, organizations or OUs.",
                )


@emits("IBP111")
def region_copy_with_default_key(estate: Estate) -> Iterator[Finding]:
    for configuration in estate.all(DistributionConfiguration):
        wires = estate.wires_to(configuration)
        if not wires:
            continue
        for entry in configuration.entries:

            def decide(world: World):
                view = view_entry(entry, configuration, world)
                if view is None or not is_absent(view.kms_key_id):
                    return None
                shared = view.others(copies=False)
                if not shared:
                    return None
                apart = regions_away_from_build(views_of(configuration, world))
                build_region = region_of_deployment(configuration.deployment)
                if not regions_differ(view.region, build_region, apart):
                    return None
                customer_key = _customer_recipe_key(wires, world, estate)
                return Violated((shared, customer_key)) if customer_key else None

            verdict = judge(decide)
            if not verdict.violated:
                continue
            shared, customer_key = verdict.first()
            yield Finding(
                "IBP111",
                verdict.severity(WARNING),
                f"{configuration.name} copies the image (encrypted with {customer_key}) to {_entry_region(entry)} without a "
                f"KMS key and shares it with {describe_recipients(shared, verbs=False)}{verdict.condition()}: "
                "the Region copy is encrypted with "
                f"that Region's default EBS key ({DEFAULT_EBS_ALIAS} unless changed), which cannot be shared.",
                entry.region.span if entry.region is not None else entry.span,
                configuration.name,
            )


def _customer_recipe_key(wires: list[Wire], world: World, estate: Estate) -> str | None:
    for wire in wires:
        if not holds(wire.condition | wire.recipe.condition, world):
            continue
        for volume in wire.recipe.volumes:
            if not holds(volume.condition, world):
                continue
            key = select(volume.kms_key_id, world)
            if _is_customer_key(key, estate):
                return _shown(key)
    return None


CHECKS = [
    managed_key_on_recipe_volume,
    managed_key_on_distribution,
    default_key_on_encrypted_volume,
    encryption_by_default,
    parent_image_encryption,
    key_in_wrong_region,
    key_not_named_by_arn,
    key_not_symmetric,
    key_without_encrypted,
    public_encrypted_image,
    region_copy_with_default_key,
]
