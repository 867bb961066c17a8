#!/usr/bin/env python3
"""Creates the mquery cache table in DynamoDB Local with exactly the schema of template.yaml.

The table's key schema, attribute definitions, billing mode and TTL attribute are read from
the CacheTable resource of template.yaml, so the local table cannot drift from production.
Speaks DynamoDB's JSON protocol directly (DynamoDB Local accepts any signature). Idempotent:
an existing table is left as it is.

Usage: create-table.py --endpoint http://127.0.0.1:8000 --table mquery-cache
"""
import argparse
import json
import pathlib
import sys
import time
import urllib.error
import urllib.request

from samtranslator.yaml_helper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parent.parent


def call(endpoint: str, action: str, body: dict) -> dict:
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{action}",
            # DynamoDB Local checks that a signature is present, not that it is valid
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        detail = json.loads(e.read() or b"{}")
        raise RuntimeError(f"{action}: {detail.get('__type', e.code)}: {detail.get('message', '')}") from e


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    args = parser.parse_args()

    template = yaml_parse(pathlib.Path(args.template).read_text(encoding="utf-8"))
    properties = template["Resources"]["CacheTable"]["Properties"]
    ttl = properties["TimeToLiveSpecification"]

    existing = call(args.endpoint, "ListTables", {}).get("TableNames", [])
    if args.table not in existing:
        call(
            args.endpoint,
            "CreateTable",
            {
                "TableName": args.table,
                "AttributeDefinitions": properties["AttributeDefinitions"],
                "KeySchema": properties["KeySchema"],
                "BillingMode": properties["BillingMode"],
            },
        )
        for _ in range(50):
            status = call(args.endpoint, "DescribeTable", {"TableName": args.table})["Table"]["TableStatus"]
            if status == "ACTIVE":
                break
            time.sleep(0.1)
        call(
            args.endpoint,
            "UpdateTimeToLive",
            {
                "TableName": args.table,
                "TimeToLiveSpecification": {"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]},
            },
        )
    described = call(args.endpoint, "DescribeTimeToLive", {"TableName": args.table})
    attribute = described.get("TimeToLiveDescription", {}).get("AttributeName")
    if attribute != ttl["AttributeName"]:
        print(f"table {args.table}: TTL attribute is {attribute!r}, expected {ttl['AttributeName']!r}", file=sys.stderr)
        return 1
    print(f"table {args.table} ready at {args.endpoint} (TTL on {attribute})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
