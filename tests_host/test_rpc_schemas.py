"""The firmware's validation tables come from the official schemas and are up to date."""

import filecmp
import json
import os
import sys

import jsonschema

from mpharness import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import gen_validators  # noqa: E402


def test_committed_tables_match_the_generator_output():
    with open(gen_validators.OUT) as f:
        committed = f.read()
    assert committed == gen_validators.generate(), "run: .venv/bin/python tools/gen_validators.py"


def test_schemas_are_the_official_ones_from_the_ocpp_package():
    pkg = gen_validators.package_schemas()
    names = sorted(n for n in os.listdir(gen_validators.SCHEMAS) if n.endswith(".json"))
    assert names == gen_validators.wanted_files()
    for n in names:
        assert filecmp.cmp(os.path.join(pkg, n), os.path.join(gen_validators.SCHEMAS, n), shallow=False), n


def test_every_handled_action_has_both_schemas():
    for a in gen_validators.INCOMING + gen_validators.OUTGOING:
        for kind in ("Request", "Response"):
            with open(os.path.join(gen_validators.SCHEMAS, a + kind + ".json")) as f:
                jsonschema.Draft6Validator.check_schema(json.load(f))
