"""TypeScript targets, and `check` (tsc) and `lint` (ESLint) through the owning package's
package.json scripts, with the node_modules that Pants' JavaScript backend installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from pants.backend.javascript.install_node_package import (
    InstalledNodePackageRequest,
    InstalledNodePackageWithSource,
)
from pants.backend.javascript.nodejs_project_environment import NodeJsProjectEnvironmentProcess
from pants.backend.javascript.package_json import OwningNodePackage, OwningNodePackageRequest
from pants.backend.javascript.target_types import (
    JSDependenciesField,
    JSSourceField,
    JSTestBatchCompatibilityTagField,
    JSTestDependenciesField,
    JSTestExtraEnvVarsField,
    JSTestSourceField,
    JSTestTimeoutField,
)
from pants.core.goals.check import CheckRequest, CheckResult, CheckResults
from pants.core.goals.lint import LintResult, LintTargetsRequest
from pants.core.target_types import FileSourceField, ResourceSourceField
from pants.core.util_rules.partitions import Partition, PartitionerType, Partitions
from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.addresses import UnparsedAddressInputs
from pants.engine.fs import Digest, MergeDigests
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    FieldSet,
    MultipleSourcesField,
    SourcesField,
    SpecialCasedDependencies,
    Target,
    TargetFilesGenerator,
    Targets,
    TransitiveTargets,
    TransitiveTargetsRequest,
)
from pants.engine.unions import UnionRule
from pants.option.option_types import SkipOption
from pants.option.subsystem import Subsystem
from pants.util.dirutil import fast_relpath
from pants.util.logging import LogLevel
from pants.util.strutil import pluralize

TS_FILE_EXTENSIONS = (".ts", ".tsx")


class TypeScriptSourceField(JSSourceField):
    expected_file_extensions = TS_FILE_EXTENSIONS


class TypeScriptTestSourceField(JSTestSourceField):
    expected_file_extensions = TS_FILE_EXTENSIONS


class TypeScriptCheckDependenciesField(SpecialCasedDependencies):
    alias = "check_dependencies"
    help = (
        "Targets whose files the type check reads but the build does not (e.g. the API's "
        "OpenAPI document that types are generated from). Not dependencies of the build."
    )


class TypeScriptSourceTarget(Target):
    alias = "typescript_source"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        JSDependenciesField,
        TypeScriptSourceField,
        TypeScriptCheckDependenciesField,
    )
    help = "A TypeScript source file of a package.json package."


class TypeScriptSourcesGeneratorSourcesField(MultipleSourcesField):
    expected_file_extensions = TS_FILE_EXTENSIONS
    default = ("*.ts", "*.tsx", "!*.test.ts", "!*.test.tsx")


class TypeScriptSourcesGeneratorTarget(TargetFilesGenerator):
    alias = "typescript_sources"
    core_fields = (*COMMON_TARGET_FIELDS, TypeScriptSourcesGeneratorSourcesField)
    generated_target_cls = TypeScriptSourceTarget
    copied_fields = COMMON_TARGET_FIELDS
    moved_fields = (JSDependenciesField, TypeScriptCheckDependenciesField)
    help = "Generate a `typescript_source` target for each file in `sources`."


class TypeScriptTestTarget(Target):
    alias = "typescript_test"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        JSTestDependenciesField,
        TypeScriptTestSourceField,
        JSTestTimeoutField,
        JSTestExtraEnvVarsField,
        JSTestBatchCompatibilityTagField,
        TypeScriptCheckDependenciesField,
    )
    help = "A TypeScript test file, run by the owning package.json's test script."


class TypeScriptTestsGeneratorSourcesField(MultipleSourcesField):
    expected_file_extensions = TS_FILE_EXTENSIONS
    default = ("*.test.ts", "*.test.tsx")


class TypeScriptTestsGeneratorTarget(TargetFilesGenerator):
    alias = "typescript_tests"
    core_fields = (*COMMON_TARGET_FIELDS, TypeScriptTestsGeneratorSourcesField)
    generated_target_cls = TypeScriptTestTarget
    copied_fields = COMMON_TARGET_FIELDS
    moved_fields = (
        JSTestDependenciesField,
        JSTestTimeoutField,
        JSTestExtraEnvVarsField,
        JSTestBatchCompatibilityTagField,
        TypeScriptCheckDependenciesField,
    )
    help = "Generate a `typescript_test` target for each file in `sources`."


class TypeScriptCheck(Subsystem):
    options_scope = "tsc"
    name = "tsc"
    help = "Type-check TypeScript with the owning package.json's `typecheck` script."
    skip = SkipOption("check")


class ESLint(Subsystem):
    options_scope = "eslint"
    name = "ESLint"
    help = "Lint TypeScript with the owning package.json's `lint` script (ESLint)."
    skip = SkipOption("lint")


@dataclass(frozen=True)
class TypeScriptFieldSet(FieldSet):
    required_fields = (JSSourceField,)

    source: JSSourceField
    check_dependencies: TypeScriptCheckDependenciesField

    @classmethod
    def is_applicable(cls, target: Target) -> bool:
        # TypeScript only: plain JavaScript targets have the same base field.
        return target.has_field(TypeScriptSourceField) or target.has_field(
            TypeScriptTestSourceField
        )


@dataclass(frozen=True)
class PackageScriptRun:
    """The field sets of one package.json package and the package's script to run."""

    field_sets: tuple[TypeScriptFieldSet, ...]
    script: str
    pass_files: bool
    description: str


async def _run_package_script(run: PackageScriptRun) -> tuple[FallibleProcessResult, str]:
    owner = await Get(OwningNodePackage, OwningNodePackageRequest(run.field_sets[0].address))
    package = owner.ensure_owner()
    installation, transitive = await MultiGet(
        Get(InstalledNodePackageWithSource, InstalledNodePackageRequest(package.address)),
        Get(TransitiveTargets, TransitiveTargetsRequest(fs.address for fs in run.field_sets)),
    )
    extra_targets = await MultiGet(
        Get(
            Targets,
            UnparsedAddressInputs,
            fs.check_dependencies.to_unparsed_address_inputs(),
        )
        for fs in run.field_sets
    )
    sources, extra_sources, own_files = await MultiGet(
        Get(
            SourceFiles,
            SourceFilesRequest(
                (tgt[SourcesField] for tgt in transitive.closure if tgt.has_field(SourcesField)),
                for_sources_types=(JSSourceField, ResourceSourceField, FileSourceField),
                enable_codegen=True,
            ),
        ),
        Get(
            SourceFiles,
            SourceFilesRequest(
                (tgt[SourcesField] for tgts in extra_targets for tgt in tgts),
                for_sources_types=(FileSourceField, ResourceSourceField, JSSourceField),
                enable_codegen=True,
            ),
        ),
        Get(SourceFiles, SourceFilesRequest(fs.source for fs in run.field_sets)),
    )
    digest = await Get(
        Digest,
        MergeDigests((installation.digest, sources.snapshot.digest, extra_sources.snapshot.digest)),
    )
    package_dir = installation.project_env.package_dir()
    files = (
        tuple(sorted(fast_relpath(f, package_dir) for f in own_files.snapshot.files))
        if run.pass_files
        else ()
    )
    process = await Get(
        Process,
        NodeJsProjectEnvironmentProcess(
            installation.project_env,
            args=("run", run.script, *(("--", *files) if files else ())),
            description=f"{run.description} {pluralize(len(run.field_sets), 'file')}",
            input_digest=digest,
            level=LogLevel.DEBUG,
        ),
    )
    result = await Get(FallibleProcessResult, Process, process)
    return result, package.address.spec


class TypeScriptCheckRequest(CheckRequest):
    field_set_type = TypeScriptFieldSet
    tool_name = TypeScriptCheck.options_scope


@rule(desc="Type-check TypeScript", level=LogLevel.DEBUG)
async def typecheck(request: TypeScriptCheckRequest, tsc: TypeScriptCheck) -> CheckResults:
    if tsc.skip or not request.field_sets:
        return CheckResults([], checker_name=request.tool_name)
    by_package = await _group_by_package(request.field_sets)
    results = []
    for field_sets in by_package:
        # tsc checks the whole project its tsconfig names: one run per package.
        result, package = await _run_package_script(
            PackageScriptRun(field_sets, "typecheck", pass_files=False, description="tsc on")
        )
        results.append(
            CheckResult.from_fallible_process_result(
                result, partition_description=package, strip_chroot_path=True
            )
        )
    return CheckResults(results, checker_name=request.tool_name)


async def _group_by_package(
    field_sets: Iterable[TypeScriptFieldSet],
) -> list[tuple[TypeScriptFieldSet, ...]]:
    field_sets = tuple(field_sets)
    owners = await MultiGet(
        Get(OwningNodePackage, OwningNodePackageRequest(fs.address)) for fs in field_sets
    )
    groups: dict[str, list[TypeScriptFieldSet]] = {}
    for fs, owner in zip(field_sets, owners):
        groups.setdefault(owner.ensure_owner().address.spec, []).append(fs)
    return [tuple(group) for _, group in sorted(groups.items())]


@dataclass(frozen=True)
class PackagePartition:
    package: str

    @property
    def description(self) -> str:
        return self.package


class ESLintRequest(LintTargetsRequest):
    field_set_type = TypeScriptFieldSet
    tool_subsystem = ESLint
    partitioner_type = PartitionerType.CUSTOM


@rule(desc="Partition TypeScript by package", level=LogLevel.DEBUG)
async def partition_for_eslint(
    request: ESLintRequest.PartitionRequest[TypeScriptFieldSet], eslint: ESLint
) -> Partitions[TypeScriptFieldSet, PackagePartition]:
    if eslint.skip:
        return Partitions()
    groups = await _group_by_package(request.field_sets)
    owners = await MultiGet(
        Get(OwningNodePackage, OwningNodePackageRequest(group[0].address)) for group in groups
    )
    return Partitions(
        Partition(group, PackagePartition(owner.ensure_owner().address.spec))
        for group, owner in zip(groups, owners)
    )


@rule(desc="Lint with ESLint", level=LogLevel.DEBUG)
async def run_eslint(
    request: ESLintRequest.Batch[TypeScriptFieldSet, PackagePartition],
) -> LintResult:
    result, _ = await _run_package_script(
        PackageScriptRun(tuple(request.elements), "lint", pass_files=True, description="ESLint on")
    )
    return LintResult.create(request, result)


def target_types() -> Iterable[type[Target]]:
    return (
        TypeScriptSourceTarget,
        TypeScriptSourcesGeneratorTarget,
        TypeScriptTestTarget,
        TypeScriptTestsGeneratorTarget,
    )


def rules() -> Iterable[Any]:
    return (
        *collect_rules(),
        *ESLintRequest.rules(),
        UnionRule(CheckRequest, TypeScriptCheckRequest),
    )
