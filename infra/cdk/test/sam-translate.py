"""Translates a SAM template to plain CloudFormation, offline, and prints it as JSON.

    sam-translate.py TEMPLATE

Uses samtranslator (a dependency of aws-sam-cli), as `sam validate` does, with a region given here and no
AWS calls: the template's local CodeUri is replaced by a placeholder S3 location (what `sam package` would
put there), and managed policies named by their short name resolve from samtranslator's bundled map
instead of an IAM lookup. Function Metadata is passed through to the generated resources, so each of them
still names its function's binary.
"""

import json
import os
import sys

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

PLACEHOLDER_CODE_URI = "s3://sam-translate/code.zip"


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = PLACEHOLDER_CODE_URI
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"].pop("CodeUri", None)

    # A region is all the translation needs: never a profile or credentials.
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(variable, None)
    translator = Translator(
        managed_policy_map={},
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name="us-east-1"),
    )
    translated = translator.translate(
        template, parameter_values={}, passthrough_metadata=True, get_managed_policy_map=lambda: {}
    )
    json.dump(translated, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
