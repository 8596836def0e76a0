#!/usr/bin/python3
"""Checks that the JSON Schemas under schemas/json/ agree with the C++ parser.

Every file of tests/schemas/corpus/<kind>/valid/ must validate against the
kind's schema and every file of .../invalid/ must not; the C++ corpus test
checks the parser against the same files. Files in .../invalid_parser_only/
break rules JSON Schema cannot state (duplicate keys, sizes in bytes, nesting
depth, timestamps relative to the Kafka timestamp, malformed JSON), so they are
skipped here.

Run with Debian's interpreter, which sees python3-jsonschema:
    /usr/bin/python3 tests/schemas/check_json_schema.py
Exits 0 when schema and corpus agree, 1 listing every disagreement, 2 when the
set-up is broken (no jsonschema module, a missing folder, an invalid schema).
"""

import argparse
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check_json_schema.py: the jsonschema module is missing "
             "(apt-get install python3-jsonschema; run with /usr/bin/python3)")

ROOT = pathlib.Path(__file__).resolve().parents[2]
# corpus folder -> schema file
KINDS = {
    "events": "events.schema.json",
    "items": "items.schema.json",
    "recommendations": "recommendations.schema.json",
}


def reject_constant(name):
    # Python's json reads NaN and Infinity; JSON (and the C++ parser) do not.
    raise ValueError(f"{name} is not JSON")


def is_valid(validator, path):
    """True when the file is JSON that the schema accepts."""
    try:
        document = json.loads(path.read_bytes(), parse_constant=reject_constant)
    except ValueError:  # also UnicodeDecodeError and JSONDecodeError
        return False
    return validator.is_valid(document)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=pathlib.Path, default=ROOT / "schemas" / "json")
    parser.add_argument("--corpus", type=pathlib.Path,
                        default=ROOT / "tests" / "schemas" / "corpus")
    args = parser.parse_args()

    disagreements = []
    checked = 0
    for kind, schema_name in KINDS.items():
        schema = json.loads((args.schemas / schema_name).read_text(encoding="utf-8"))
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.exceptions.SchemaError as error:
            print(f"{schema_name}: not a valid schema: {error.message}", file=sys.stderr)
            return 2
        validator = validator_class(schema)
        for folder, expected in (("valid", True), ("invalid", False)):
            directory = args.corpus / kind / folder
            files = sorted(directory.glob("*.json"))
            if not files:
                print(f"{directory}: no corpus files", file=sys.stderr)
                return 2
            for path in files:
                checked += 1
                if is_valid(validator, path) != expected:
                    verdict = "rejects" if expected else "accepts"
                    disagreements.append(f"{path.relative_to(args.corpus)}: {schema_name} {verdict} it")

    for line in disagreements:
        print(line)
    print(f"{checked} corpus files checked, {len(disagreements)} disagree with their folder")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
