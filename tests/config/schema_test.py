#!/usr/bin/env python3
"""config/corostorm.schema.json against the config corpus, with python3-jsonschema.

  schema_test.py SCHEMA SHIPPED_CONFIG GOOD_DIR BAD_DIR

- the schema is a valid draft-07 schema, and every default and example in it is
  valid where it stands;
- the shipped config and every file in GOOD_DIR validate;
- every file in BAD_DIR (each rejected by the validator, see config_test) fails the
  schema, except the cases listed below: those PyYAML cannot read as one document,
  and those whose fault a JSON Schema cannot express, which must pass it. Both lists
  name existing files, so neither can go stale unnoticed.

The files are read the way an editor's YAML language server reads them: YAML 1.2's
core schema (`yes`, `off` are strings; only true/false are booleans).
Exit 0 = pass, 1 = fail, 77 = skipped (python3-jsonschema or python3-yaml missing).
"""
import json
import os
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:
    print(f"skip: {e}; install python3-jsonschema and python3-yaml (scripts/setup.sh --test)")
    sys.exit(77)

# Files PyYAML cannot load as a single YAML document: no schema ever sees them.
NOT_YAML = {
    "106-tab-indentation.yaml": "a tab in the indentation",
    "30-syntax-error.yaml": "an unclosed flow list",
    "31-not-utf8.yaml": "not UTF-8",
    "32-nul-byte.yaml": "a NUL byte",
    "34-two-documents.yaml": "two documents",
    "71-binary-png.yaml": "binary, not UTF-8",
    "72-binary-elf.yaml": "binary, a control character",
    "75-undefined-alias.yaml": "an alias to no anchor",
    "76-stray-comma.yaml": "a comma after the document",
    "107-key-not-a-name.yaml": "a list as a key (JSON has only string keys)",
    "283-undefined-alias.yaml": "an alias to no anchor",
    "284-tab-indentation.yaml": "a tab in the indentation",
    "286-key-that-is-not-a-name.yaml": "a map as a key (JSON has only string keys)",
    "289-invalid-utf-8.yaml": "not UTF-8",
    "290-overlong-utf-8.yaml": "not UTF-8 (an overlong encoding)",
    "291-utf-16-surrogate-in-utf-8.yaml": "not UTF-8 (a UTF-16 surrogate)",
    "292-nul-byte.yaml": "a NUL byte",
    "295-two-documents.yaml": "two documents",
}

# Faults a JSON Schema cannot express; the schema accepts these files.
SCHEMA_CANNOT_EXPRESS = {
    # Keys are unique by YAML's rules; a loader keeps one of them (editors flag them).
    "27-duplicate-key.yaml": "duplicate key",
    "67-duplicate-section.yaml": "duplicate key",
    "68-duplicate-stage-key.yaml": "duplicate key",
    "69-duplicate-workload-kind.yaml": "duplicate key",
    "70-duplicate-flow-key.yaml": "duplicate key",
    "265-duplicate-section.yaml": "duplicate key",
    "266-duplicate-key-in-a-list-item.yaml": "duplicate key",
    "267-duplicate-kind.yaml": "duplicate key",
    # Unique by one property of each item: uniqueItems compares whole items.
    "10-duplicate-stage-name.yaml": "names unique within a list",
    "11-duplicate-workload-name.yaml": "names unique within a list",
    "135-duplicate-stage-name.yaml": "names unique within a list",
    "136-duplicate-workload-name.yaml": "names unique within a list",
    # Across fields.
    "42-spawn-tree-too-many-tasks.yaml": "fanout and depth together: at most 1G tasks a tree",
    "43-spawn-tree-fanout-too-wide.yaml": "fanout and depth together: at most 1G tasks a tree",
    "206-too-many-tree-tasks.yaml": "fanout and depth together: at most 1G tasks a tree",
    "207-too-many-tree-tasks-with-the-default-depth.yaml": "fanout and depth together: at most 1G tasks a tree",
    "208-too-many-tree-tasks-with-the-default-fanout.yaml": "fanout and depth together: at most 1G tasks a tree",
    "209-too-many-tree-tasks-for-64-bits.yaml": "fanout and depth together: at most 1G tasks a tree",
    "210-too-many-tree-tasks-1000-wide-and-3-deep.yaml": "fanout and depth together: at most 1G tasks a tree",
    "298-asio-worker-allocator-shared.yaml": "runtime.asio.allocator worker with runtime.layout shared",
    "301-asio-deferred-with-worker-allocator.yaml": "runtime.asio.token deferred with runtime.asio.allocator worker",
    "97-headroom-not-below-limit.yaml": "headroom smaller than a size limit",
    # The range of a value written with a unit (a pattern checks the form only;
    # the range is in the description). Plain integers are range-checked.
    "104-ring-size-too-large.yaml": "range of a count with a unit (2M)",
    "121-rpc-connections-too-many.yaml": "range of a count with a unit (2k)",
    "37-yield-rounds-too-many.yaml": "range of a count with a unit (2000G)",
    "98-sample-every-too-large.yaml": "range of a count with a unit (2M)",
    "147-count-above-its-range.yaml": "range of a count with a unit (20G)",
    "182-yield-rounds-too-many.yaml": "range of a count with a unit (2000G)",
    "192-ring-size-too-large.yaml": "range of a count with a unit (2M)",
    "200-fanout-too-large.yaml": "range of a count with a unit (2k)",
    "109-echo-period-too-short.yaml": "range of a duration",
    "110-echo-period-too-long.yaml": "range of a duration",
    "115-rpc-period-too-short.yaml": "range of a duration",
    "116-rpc-period-too-long.yaml": "range of a duration",
    "36-sleep-work-too-long.yaml": "range of a duration",
    "46-cpu-slice-zero.yaml": "range of a duration",
    "51-sleep-period-too-short.yaml": "range of a duration",
    "79-huge-duration.yaml": "range of a duration",
    "127-timer-tick-too-fine.yaml": "range of a duration",
    "144-duration-too-long.yaml": "range of a duration",
    "171-period-too-short.yaml": "range of a duration",
    "173-period-too-long.yaml": "range of a duration",
    "174-sleep-work-too-long.yaml": "range of a duration",
    "186-yield-work-too-long.yaml": "range of a duration",
    "213-slice-0s.yaml": "range of a duration",
    "214-slice-too-short.yaml": "range of a duration",
    "215-slice-too-long.yaml": "range of a duration",
    "221-echo-period-too-short.yaml": "range of a duration",
    "222-echo-period-too-long.yaml": "range of a duration",
    "237-rpc-period-0s.yaml": "range of a duration",
    "238-rpc-period-too-long.yaml": "range of a duration",
    "278-duration-beyond-64-bits.yaml": "range of a duration",
    "111-echo-message-zero.yaml": "range of a size with a unit (0B)",
    "112-echo-message-too-large.yaml": "range of a size with a unit (128KiB)",
    "117-rpc-message-too-small.yaml": "range of a size with a unit (8B)",
    "24-memory-limit-too-small.yaml": "range of a size with a unit (1MiB)",
    "80-huge-size.yaml": "range of a size with a unit",
    "225-echo-message-0b.yaml": "range of a size with a unit (0B)",
    "227-echo-message-too-large-in-mib.yaml": "range of a size with a unit (1MiB)",
    "240-rpc-message-too-small.yaml": "range of a size with a unit (8B)",
    "242-rpc-message-too-large.yaml": "range of a size with a unit (65KiB)",
    # A size is a whole number of bytes; the pattern allows a fraction before any unit.
    "231-echo-message-a-fraction-of-a-byte.yaml": "a whole number of bytes (1.5B)",
}


class CoreSchemaLoader(yaml.SafeLoader):
    """YAML 1.2 core schema scalars, as editors read them (PyYAML alone is YAML 1.1)."""


CoreSchemaLoader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^[-+]?[0-9]+$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    CoreSchemaLoader.add_implicit_resolver("tag:yaml.org,2002:" + tag, re.compile(pattern), list(first))


def load(path):
    with open(path, "rb") as f:
        return yaml.load(f, Loader=CoreSchemaLoader)


def expected_path(path):
    """The key path the file's `# expect:` message starts with; "" when it names none."""
    with open(path, "rb") as f:
        expect = f.readline().decode("utf-8").removeprefix("# expect: ")
    head, sep, _ = expect.partition(": ")
    return head if sep and " " not in re.sub(r'"[^"]*"', "", head) else ""


def path_text(error):
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def blames(error, expected):
    """Whether a schema error is about the key the validator's message names: the key
    itself, or, for an unknown or a missing key, the map that holds it."""
    at = path_text(error)
    if at == expected:
        return True
    if error.validator not in ("additionalProperties", "required"):
        return False
    # An unknown key with a dot in its name ("runtime.threads" written as one key).
    key = expected.removeprefix(at + "." if at else "")
    if error.validator == "additionalProperties" and f"'{key}' was unexpected" in error.message:
        return True
    if at == "":
        return not re.search(r"[.\[]", re.sub(r'"[^"]*"', "", expected))
    return expected.startswith(at + ".")


def defaults_and_examples(node, where=""):
    """(where, subschema, value) for every default and example in the schema."""
    if isinstance(node, dict):
        for key in ("default", "examples"):
            if key in node:
                values = node[key] if key == "examples" else [node[key]]
                for v in values:
                    yield f"{where}/{key}", node, v
        for key, child in node.items():
            if key not in ("default", "examples"):
                yield from defaults_and_examples(child, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from defaults_and_examples(child, f"{where}/{i}")


def main():
    schema_path, shipped, good_dir, bad_dir = sys.argv[1:5]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    failures = []
    checks = 0

    def check(ok, what):
        nonlocal checks
        checks += 1
        if not ok:
            failures.append(what)
            print(f"not ok - {what}")

    schema_errors = [e.message for e in jsonschema.Draft7Validator(
        jsonschema.Draft7Validator.META_SCHEMA).iter_errors(schema)]
    check(not schema_errors, f"the schema is not a valid draft-07 schema: {schema_errors}")
    validator = jsonschema.Draft7Validator(schema)

    # A default or an example sits beside the subschema it must satisfy; refs in it
    # point into the root's definitions.
    for where, subschema, value in defaults_and_examples(schema):
        local = dict(subschema, definitions=schema["definitions"])
        errors = [e.message for e in jsonschema.Draft7Validator(local).iter_errors(value)]
        check(not errors, f"{where} = {value!r} fails its own schema: {errors}")

    def errors_of(doc):
        return sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))

    good = {path: load(path) for path in
            [shipped] + sorted(os.path.join(good_dir, n) for n in os.listdir(good_dir))}
    check(len(good) > 5, f"{good_dir} holds {len(good) - 1} files")
    # The shipped config's commented-out example workloads, uncommented (lines
    # "  # - name: ..." and "  #   key: ..."), as config_test loads them.
    with open(shipped, encoding="utf-8") as f:
        text = re.sub(r"^  # (-|  )", r"  \1", f.read(), flags=re.M)
    examples = yaml.load(text, Loader=CoreSchemaLoader)
    check(len(examples["workloads"]) == 3, f"{shipped}: no commented-out example workloads found")
    good[f"{shipped} with its examples uncommented"] = examples
    for path, doc in good.items():
        errors = errors_of(doc)
        check(not errors, f"{path} fails the schema: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors))

    bad = sorted(os.listdir(bad_dir))
    for listed in list(NOT_YAML) + list(SCHEMA_CANNOT_EXPRESS):
        check(listed in bad, f"{listed} is listed here but not in {bad_dir}")
    expressible = 0
    for name in bad:
        path = os.path.join(bad_dir, name)
        try:
            doc = load(path)
        except yaml.YAMLError as e:
            check(name in NOT_YAML, f"{name}: PyYAML cannot load it ({str(e).splitlines()[0]}) "
                                    f"but it is not listed in NOT_YAML")
            continue
        check(name not in NOT_YAML, f"{name} is listed in NOT_YAML but loads")
        # is_valid only: an error message would print the instance, and 73-alias-bomb's
        # shared lists print as 10^10 items.
        valid = validator.is_valid(doc)
        if name in SCHEMA_CANNOT_EXPRESS:
            check(valid, f"{name} fails the schema but is listed as one it cannot express "
                         f"({SCHEMA_CANNOT_EXPRESS[name]}): take it off the list")
        else:
            expressible += 1
            check(not valid, f"{name} passes the schema; make the schema reject it, or list it "
                             f"in SCHEMA_CANNOT_EXPRESS with the reason")
            if not valid:
                expected = expected_path(path)
                check(any(blames(e, expected) for e in validator.iter_errors(doc)),
                      f"{name}: the schema rejects it, but not at {expected or 'the top level'}")

    print(f"{len(good)} good files, {len(bad)} bad: {expressible} fail the schema, "
          f"{len(SCHEMA_CANNOT_EXPRESS)} it cannot express, {len(NOT_YAML)} not YAML")
    print(f"{checks - len(failures)} of {checks} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
