#!/usr/bin/env python3
"""Checks the alerting rules against the runbook and the dashboards.

usage: alerts_check.py SRC_DIR

For every alert of deploy/prometheus/rules/alerts.yml:
- labels.severity is critical or warning;
- annotations summary and description name the instance ({{ $labels.instance }});
- annotations runbook_url is docs/runbook.md#<anchor>, the anchor is the
  alert's name in lower case, and docs/runbook.md has a heading with that
  anchor (GitHub's rule: lower case, punctuation dropped, spaces to dashes);
- the expression keeps the instance: no aggregation drops it (a `by (...)`
  list without instance, a `without (...)` list with it), and every recording
  rule it reads is a per-instance one (level instance_...);
- the threshold table of docs/runbook.md has one row for it whose threshold
  is a number in the expr, whose `for` and severity equal the rule's;
- its runbook section says what it means, how to confirm it and what to do,
  and names at least one dashboard panel as **corostorm / DASHBOARD: TITLE**,
  each of which exists in dashboards/DASHBOARD.json.
Also: the table lists no alert the rules lack, and every relative link of the
runbook points at a file (and heading) that exists.
Prints one "ok"/"FAIL" line a check; exits 1 when any fails, 77 (skipped)
without PyYAML.
"""
import json
import pathlib
import re
import sys

try:
    import yaml
except ImportError:
    print("skipped: python3 has no yaml module (Debian: apt-get install python3-yaml)")
    sys.exit(77)

failed = 0


def check(cond, what):
    global failed
    print(("ok   - " if cond else "FAIL - ") + what)
    if not cond:
        failed += 1


def slug(heading):
    """GitHub's anchor of a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(md_text):
    out = set()
    in_code = False
    for line in md_text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code:
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                out.add(slug(m.group(1)))
    return out


def sections(md_text):
    """{heading: body} of the level-2 sections."""
    out, name, body = {}, None, []
    for line in md_text.splitlines():
        m = re.match(r"^## (.*)$", line)
        if m:
            if name is not None:
                out[name] = "\n".join(body)
            name, body = m.group(1).strip(), []
        elif name is not None:
            body.append(line)
    if name is not None:
        out[name] = "\n".join(body)
    return out


def threshold_table(md_text):
    """{alert: {column: cell}} of the table whose header starts with | alert |."""
    rows, header = {}, None
    for line in md_text.splitlines():
        if not line.startswith("|"):
            if header is not None and rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            if cells and cells[0] == "alert":
                header = cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        row = dict(zip(header, cells))
        name = row["alert"].strip("`")
        check(name not in rows, f"runbook table: one row for {name}")
        rows[name] = row
    return rows


def aggregation_keeps_instance(expr):
    """(ok, why): no by-list without instance, no without-list with it."""
    for kind, labels in re.findall(r"\b(by|without)\s*\(([^)]*)\)", expr):
        names = {l.strip() for l in labels.split(",") if l.strip()}
        if kind == "by" and "instance" not in names:
            return False, f"by ({labels}) drops instance"
        if kind == "without" and "instance" in names:
            return False, f"without ({labels}) drops instance"
    for rec in re.findall(r"\b([a-z_]+:[a-z_0-9]+:[a-z_0-9]+)\b", expr):
        if not rec.startswith("instance_"):
            return False, f"reads {rec}, whose level is not instance_"
    return True, ""


def main():
    if len(sys.argv) != 2:
        print("usage: alerts_check.py SRC_DIR", file=sys.stderr)
        return 2
    src = pathlib.Path(sys.argv[1])
    rules_file = src / "deploy/prometheus/rules/alerts.yml"
    runbook_file = src / "docs/runbook.md"
    runbook = runbook_file.read_text()
    heading_anchors = anchors(runbook)
    secs = sections(runbook)
    table = threshold_table(runbook)
    check(len(table) > 0, "docs/runbook.md has the threshold table (| alert | ... |)")
    dash_titles = {}
    for f in sorted((src / "dashboards").glob("*.json")):
        dash_titles[f.stem] = {p.get("title") for p in json.loads(f.read_text())["panels"]}

    alerts = [r for g in yaml.safe_load(rules_file.read_text())["groups"]
              for r in g["rules"] if "alert" in r]
    check(len(alerts) > 0, f"{rules_file.name} has alerts")
    for r in alerts:
        name, expr = r["alert"], r["expr"]
        ann, labels = r.get("annotations", {}), r.get("labels", {})
        check(labels.get("severity") in ("critical", "warning"), f"{name}: severity critical or warning")
        for key in ("summary", "description"):
            check("{{ $labels.instance }}" in ann.get(key, ""), f"{name}: {key} names {{{{ $labels.instance }}}}")
        url = ann.get("runbook_url", "")
        m = re.fullmatch(r"docs/runbook\.md#([a-z0-9\-]+)", url)
        check(m is not None and m.group(1) == name.lower(),
              f"{name}: runbook_url {url!r} is docs/runbook.md#{name.lower()}")
        check(m is not None and m.group(1) in heading_anchors,
              f"{name}: docs/runbook.md has the anchor #{m.group(1) if m else '?'}")
        keeps, why = aggregation_keeps_instance(expr)
        check(keeps, f"{name}: the expr keeps the instance label{': ' + why if why else ''}")

        row = table.get(name)
        check(row is not None, f"{name}: a row in the runbook's threshold table")
        if row:
            want = row.get("threshold", "").strip("`")
            numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", re.sub(r'"[^"]*"', "", expr))
            check(want in numbers, f"{name}: threshold {want} of the table is a number of the expr {expr!r}")
            check(row.get("for", "") == r.get("for", "-"),
                  f"{name}: for {row.get('for')!r} in the table, {r.get('for', '-')!r} in the rule")
            check(row.get("severity", "") == labels.get("severity"),
                  f"{name}: severity {row.get('severity')!r} in the table, {labels.get('severity')!r} in the rule")

        body = secs.get(name, "")
        for part in ("**What it means.**", "**Confirm on the dashboards.**", "**What to do.**"):
            check(part in body, f"{name}: the runbook section has {part}")
        refs = re.findall(r"\*\*corostorm /\s+(\w+):\s+([^*]+?)\*\*", body)
        check(len(refs) > 0, f"{name}: the runbook section names a dashboard panel")
        for dash, title in refs:
            title = " ".join(title.split())
            check(title in dash_titles.get(dash, set()),
                  f"{name}: panel {title!r} exists in dashboards/{dash}.json")

    names = {r["alert"] for r in alerts}
    for extra in sorted(set(table) - names):
        check(False, f"runbook table: {extra} is not an alert of {rules_file.name}")

    # Relative links of the runbook: the file exists, and so does the heading.
    for target in re.findall(r"\]\(([^)\s]+)\)", runbook):
        if re.match(r"^[a-z]+://", target):
            check(False, f"runbook link {target} points outside the repository")
            continue
        path, _, anchor = target.partition("#")
        f = (runbook_file.parent / path).resolve() if path else runbook_file
        ok = f.exists()
        if ok and anchor and f.suffix == ".md":
            ok = anchor in anchors(f.read_text())
        check(ok, f"runbook link {target} resolves")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
