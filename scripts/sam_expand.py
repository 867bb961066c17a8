#!/usr/bin/env python3
"""Expands a SAM template into plain CloudFormation, offline, with aws-sam-translator.

cfn-lint on the SAM template alone misses mistakes inside the serverless resources (a wrong
Runtime or Architecture, a !Ref to a resource that does not exist); linting the expansion
catches them. Usage: sam_expand.py TEMPLATE OUTPUT.json
"""
import json
import os
import sys

from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no AWS managed policies, so none need looking up (no network)."""

    def load(self):
        return {}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    # pseudo parameters need a region; nothing is sent anywhere
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(sys.argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # `sam package` replaces local CodeUri paths with the S3 object it uploads; do the same
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(
            properties.get("CodeUri"), str
        ) and not properties["CodeUri"].startswith("s3://"):
            properties["CodeUri"] = "s3://mquery-artifacts/mquery-lambda.zip"
    try:
        expanded = transform(template, {}, NoManagedPolicies())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{sys.argv[1]}: {cause.message}", file=sys.stderr)
        return 1
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(expanded, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
