#!/usr/bin/env python3
"""docs/contract.md agrees with the code: schema fields and types, the
schema-id catalogue, rule names and subjects, rule properties and their
defaults, DLQ reasons and headers; and the repository stands on its own
(README links the contract, no link leaves the repository).

Usage: contract_doc.py [SOURCE_DIR]   (default: $RW_SOURCE_DIR)
Exit status 0 when everything agrees, 1 with one line per disagreement."""
import json
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("RW_SOURCE_DIR", "")
if not SRC or not os.path.isdir(SRC):
    sys.exit("usage: contract_doc.py SOURCE_DIR (or set RW_SOURCE_DIR)")
DOC_REL = "docs/contract.md"

problems = []


def problem(msg):
    problems.append(msg)


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


doc = read(DOC_REL)
readme = read("README.md")


def section(text, heading):
    """The lines under `heading` (a "## ..." line) up to the next "## "."""
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        return None
    out = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        out.append(line)
    return out


def rows(lines):
    """Table rows of `lines` as {first cell's backticked name: row text}."""
    out = {}
    for line in lines:
        m = re.match(r"\|\s*`([^`]+)`\s*\|", line)
        if m:
            out.setdefault(m.group(1), line)
    return out


def doc_rows():
    return rows(doc.splitlines())


# ---- schemas: every field, with its type, in the record's table, and no other
def type_words(t):
    """Words the doc's type cell must contain for Avro type `t`."""
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        words = ['"null"'] if "null" in t else []
        for b in t:
            if b != "null":
                words += ['"%s"' % b if isinstance(b, str) else b["type"]]
        return words
    if t["type"] == "enum":
        return ["enum", "`%s`" % t["name"]] + t["symbols"]
    words = [t["type"]]
    if "logicalType" in t:
        words.append(t["logicalType"])
    return words


schemas = {}
for fn in sorted(os.listdir(os.path.join(SRC, "schemas"))):
    if not fn.endswith(".avsc"):
        continue
    s = json.loads(read("schemas/" + fn))
    full = "%s.%s" % (s["namespace"], s["name"])
    schemas[fn] = full
    sec = section(doc, "## " + full)
    if sec is None:
        problem("%s: no section '## %s' for schemas/%s" % (DOC_REL, full, fn))
        continue
    r = rows(sec)
    names = [f["name"] for f in s["fields"]]
    for f in s["fields"]:
        line = r.get(f["name"])
        if line is None:
            problem("%s: %s field `%s` (schemas/%s) has no row" % (DOC_REL, full, f["name"], fn))
            continue
        type_cell = line.split("|")[2]
        for w in type_words(f["type"]):
            if w not in type_cell:
                problem("%s: %s field `%s`: type cell lacks %s (schemas/%s)"
                        % (DOC_REL, full, f["name"], w, fn))
        if "default" in f and "default " + json.dumps(f["default"]) not in type_cell:
            problem("%s: %s field `%s`: type cell lacks 'default %s'"
                    % (DOC_REL, full, f["name"], json.dumps(f["default"])))
    # The record's own table: rows before the first blank line after it.
    table = []
    for line in sec:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    for name in rows(table):
        if name not in names:
            problem("%s: %s names field `%s`, which schemas/%s does not have"
                    % (DOC_REL, full, name, fn))

# ---- the schema-id catalogue
catalogue_ids = 0
for line in read("schemas/catalogue.txt").splitlines():
    line = line.split("#", 1)[0].split()
    if len(line) < 2:
        continue
    sid, fn = line[0], line[1]
    catalogue_ids += 1
    full = schemas.get(fn)
    if full is None:
        problem("schemas/catalogue.txt: %s is not a schemas/*.avsc file" % fn)
        continue
    if not re.search(r"^\|\s*%s\s*\|\s*`%s`" % (re.escape(sid), re.escape(full)), doc, re.M):
        problem("%s: catalogue table lacks the row '| %s | `%s` ...' (schemas/catalogue.txt)"
                % (DOC_REL, sid, full))

# ---- rules: every rule of rules/rules.c, with its subject, in the rules table
rules_c = read("rules/rules.c")
code_rules = dict(re.findall(r'\{\s*"((?:churn|dependency)\.[a-z_]+)",\s*RW_CAT_\w+,\s*RW_SUBJ_(\w+)\s*\}',
                             rules_c))
if len(code_rules) < 10:
    problem("rules/rules.c: found %d rules in the rule table; the pattern needs updating"
            % len(code_rules))
sec = section(doc, "## Rules and their defaults") or []
rule_rows = {n: l for n, l in rows(sec).items() if re.match(r"(churn|dependency)\.", n)}
for name, subj in code_rules.items():
    line = rule_rows.get(name)
    if line is None:
        problem("%s: rules table has no row for `%s` (rules/rules.c)" % (DOC_REL, name))
    elif subj not in line.split("|")[2]:
        problem("%s: rule `%s`: subject should be %s (rules/rules.c)" % (DOC_REL, name, subj))
for name in rule_rows:
    if name not in code_rules:
        problem("%s: rules table names `%s`, which rules/rules.c does not have" % (DOC_REL, name))

# ---- properties: the contract's properties with their defaults from common/conf.c
conf_c = read("common/conf.c")
props = dict(re.findall(r'\{\s*"([a-z][a-z0-9_.]*)",\s*RW_CONF_\w+,\s*"([^"]*)"', conf_c))
if len(props) < 50:
    problem("common/conf.c: found %d properties in the table; the pattern needs updating"
            % len(props))
rules_conf_c = read("rules/rules_conf.c")
read_by_rules = set(re.findall(r'"((?:rules|alerts)\.[a-z0-9_.]+)"', rules_conf_c))
params = set(re.findall(r'rw_rules_key\([^;]*?"([a-z_]+)"\)', rules_conf_c))
for rule in code_rules:
    for prm in params | {"enabled"}:
        if "rules.%s.%s" % (rule, prm) in props:
            read_by_rules.add("rules.%s.%s" % (rule, prm))
required = {p for p in props if p.startswith(("rules.", "alerts.", "topics.", "validate."))} | \
    read_by_rules
prow = doc_rows()
for name in sorted(required):
    if name not in props:
        problem("rules/rules_conf.c reads `%s`, which common/conf.c does not define" % name)
        continue
    line = prow.get(name)
    if line is None:
        problem("%s: no table row for property `%s` (common/conf.c)" % (DOC_REL, name))
        continue
    want = "`%s`" % props[name] if props[name] else "*(empty)*"
    if want not in line.split("|")[2]:
        problem("%s: property `%s`: default should be %s (common/conf.c)" % (DOC_REL, name, want))
for name, line in prow.items():
    if re.match(r"(rules|alerts|topics|validate)\.", name) and name not in props:
        problem("%s: names property `%s`, which common/conf.c does not define" % (DOC_REL, name))
for name in set(re.findall(r"`((?:rules|alerts|topics|validate)\.[a-z0-9_.]+)`", doc)):
    if name not in props:
        problem("%s: mentions property `%s`, which common/conf.c does not define" % (DOC_REL, name))
for name, line in prow.items():
    if name in props and name not in required:
        want = "`%s`" % props[name] if props[name] else "*(empty)*"
        if want not in line.split("|")[2]:
            problem("%s: property `%s`: default should be %s (common/conf.c)"
                    % (DOC_REL, name, want))

# ---- dead letters: every reason the processor emits, every header the producer sets
proc_c = read("consumers/route.c")
m = re.search(r"rw_dlq_reason_names\[[^]]*\]\s*=\s*\{(.*?)\};", proc_c, re.S)
reasons = re.findall(r'\]\s*=\s*"([a-z_]+)"', m.group(1)) if m else []
if len(reasons) < 5:
    problem("consumers/route.c: found %d DLQ reasons; the pattern needs updating" % len(reasons))
# ...and the outbox's, for an alert the alerts topic refuses for good.
outbox_reasons = re.findall(r'#define RW_OUTBOX_DLQ_REASON\s+"([a-z_]+)"', read("producers/outbox.c"))
if len(outbox_reasons) != 1:
    problem("producers/outbox.c: found %d DLQ reasons; the pattern needs updating"
            % len(outbox_reasons))
reasons += outbox_reasons
reason_rows = {n: l for n, l in rows(section(doc, "## Topics") or []).items()
               if re.fullmatch(r"[a-z]+(_[a-z]+)+", n)}
for r in reasons:
    if r not in reason_rows:
        problem("%s: DLQ reason `%s` (consumers/route.c, producers/outbox.c) has no row"
                % (DOC_REL, r))
for r in reason_rows:
    if r not in reasons:
        problem("%s: DLQ reason `%s` is not one consumers/route.c or producers/outbox.c "
                "emits" % (DOC_REL, r))
headers = re.findall(r'rd_kafka_header_add\([^,]+,\s*"([^"]+)"', read("producers/producer.c"))
if len(headers) < 5:
    problem("producers/producer.c: found %d DLQ headers; the pattern needs updating" % len(headers))
for h in headers:
    if h not in prow:
        problem("%s: DLQ header `%s` (producers/producer.c) has no row" % (DOC_REL, h))

# ---- the repository stands on its own
if "](%s)" % DOC_REL not in readme:
    problem("README.md does not link %s" % DOC_REL)

forbidden = [
    (re.compile(r"\.\./+shared\b"), "a link outside the repository"),
    (re.compile(r"\bshared\s+specification", re.I), "a specification outside the repository"),
    (re.compile(r"\bopen\s+issues?\b", re.I), "a pointer to an issue tracker"),
]


def text_files():
    for root, dirs, files in os.walk(SRC):
        # .ci/ is the CI's own entry point: it checks the project on a fresh
        # machine with a tool that lives beside the repository.
        dirs[:] = [d for d in dirs if d not in (".git", ".ci") and not d.startswith("build")
                   and not os.path.exists(os.path.join(root, d, "CMakeCache.txt"))]
        for fn in files:
            path = os.path.join(root, fn)
            try:
                with open(path, encoding="utf-8") as f:
                    yield os.path.relpath(path, SRC), f.read()
            except (UnicodeDecodeError, OSError):
                continue        # binary test data


for rel, text in text_files():
    for rx, what in forbidden:
        for mm in rx.finditer(text):
            line = text.count("\n", 0, mm.start()) + 1
            problem("%s:%d: %s: '%s'" % (rel, line, what, mm.group(0)))
    if not rel.endswith(".md"):
        continue
    # Relative links must name files inside the repository.
    for mm in re.finditer(r"\]\(([^)\s]+)\)", text):
        target = mm.group(1).split("#", 1)[0]
        if not target or re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        path = os.path.normpath(os.path.join(SRC, os.path.dirname(rel), target))
        if os.path.relpath(path, SRC).startswith(".."):
            problem("%s: link '%s' leaves the repository" % (rel, mm.group(1)))
        elif not os.path.exists(path):
            problem("%s: link '%s' names no file in the repository" % (rel, mm.group(1)))

for p in problems:
    print("FAIL: " + p)
if problems:
    sys.exit(1)
print("ok: %s agrees with %d schemas, %d catalogue ids, %d rules, %d properties, "
      "%d DLQ reasons and %d headers; no link leaves the repository"
      % (DOC_REL, len(schemas), catalogue_ids, len(code_rules), len(required),
         len(reasons), len(headers)))
