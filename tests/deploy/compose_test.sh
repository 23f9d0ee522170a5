#!/usr/bin/env bash
# Static check of the compose stack (deploy/compose): docker-compose parses
# it, and what it resolves to points at files that exist in this repository.
# Needs docker-compose (the Debian package, 1.29) and python3 with PyYAML (a
# dependency of that package); no docker engine, no images, no containers.
#
#   tests/deploy/compose_test.sh SOURCE_DIR
#
# Exit 77 (skipped) when docker-compose is not installed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
e2e_init

SRC=$(cd "${1:?usage: compose_test.sh SOURCE_DIR}" && pwd)
COMPOSE=$SRC/deploy/compose/docker-compose.yml

command -v docker-compose >/dev/null 2>&1 ||
    skip_test "docker-compose not found: apt-get install docker-compose"
require_tools python3

# Pin the variables the file reads, so the user's shell cannot change the result.
export GF_SECURITY_ADMIN_PASSWORD=admin GRAFANA_ANONYMOUS=false
unset COMPOSE_FILE COMPOSE_PROFILES COMPOSE_PROJECT_NAME

run_capture 60 "$E2E_TMP/q.out" "$E2E_TMP/q.err" docker-compose -f "$COMPOSE" config -q
((RUN_RC == 0)) || die "docker-compose config -q: exit $RUN_RC: $(cat "$E2E_TMP/q.err")"
ok "docker-compose config -q accepts deploy/compose/docker-compose.yml"

# The resolved file with the "go" profile, so the optional peer is checked too.
run_capture 60 "$E2E_TMP/resolved.yml" "$E2E_TMP/config.err" \
    docker-compose -f "$COMPOSE" --profile go config
((RUN_RC == 0)) || die "docker-compose --profile go config: exit $RUN_RC: $(cat "$E2E_TMP/config.err")"

# One line per check: "ok - ..." or "FAIL - ...".
PY_RC=0
python3 - "$SRC" "$E2E_TMP/resolved.yml" >"$E2E_TMP/checks" 2>"$E2E_TMP/checks.err" <<'PY' || PY_RC=$?
import glob, json, os, sys
import yaml

src, resolved = sys.argv[1], sys.argv[2]
cfg = yaml.safe_load(open(resolved))
services = cfg.get("services", {})

def check(cond, what):
    print(("ok   - " if cond else "FAIL - ") + what)

def binds(svc):
    """(host, target) of every bind mount; named volumes are skipped."""
    out = []
    for v in services.get(svc, {}).get("volumes", []):
        if isinstance(v, dict):
            if v.get("type") == "bind":
                out.append((v["source"], v["target"]))
            continue
        parts = v.split(":")
        if parts[0].startswith("/") or parts[0].startswith("."):
            out.append((parts[0], parts[1]))
    return out

def host_of(svc, target):
    for host, t in binds(svc):
        if t == target:
            return host
    return None

for name in ("corostorm", "prometheus", "grafana"):
    check(name in services, f"service {name} exists")
check(services.get("corostorm-go-peer", {}).get("profiles") == ["go"],
      "service corostorm-go-peer exists, only under profile go")

for svc in services:
    for host, target in binds(svc):
        inside = os.path.realpath(host).startswith(os.path.realpath(src) + os.sep)
        check(os.path.exists(host) and inside,
              f"{svc}: bind mount {os.path.relpath(host, src)} -> {target} exists in the repo")

# corostorm: built from the repository root with the top-level Dockerfile.
c = services.get("corostorm", {})
b = c.get("build", {})
check(os.path.realpath(b.get("context", "")) == os.path.realpath(src)
      and b.get("dockerfile") == "Dockerfile", "corostorm is built from ./Dockerfile at the repo root")
if not os.path.exists(os.path.join(src, "Dockerfile")):
    print("#    note: ./Dockerfile does not exist yet; `up --build` needs it")
check(c.get("image") == "corostorm:latest", "corostorm image is corostorm:latest")
check(any(str(p.get("target")) == "9464" if isinstance(p, dict) else "9464" in str(p)
          for p in c.get("ports", [])), "corostorm publishes 9464")
cmd = c.get("command", [])
if "-c" in cmd:
    path = cmd[cmd.index("-c") + 1]
    d, f = os.path.split(path)
    host = host_of("corostorm", d)
    check(host is not None and os.path.isfile(os.path.join(host, f)),
          f"corostorm -c {path} is a mounted file of the repo")

# The Go peer: its build context holds go.mod and the Dockerfile exists.
g = services.get("corostorm-go-peer", {}).get("build", {})
ctx = g.get("context", "")
check(os.path.isfile(os.path.join(ctx, "go.mod"))
      and os.path.isfile(os.path.join(ctx, g.get("dockerfile", "Dockerfile"))),
      "corostorm-go-peer: build context has go.mod and the Dockerfile exists")

# Prometheus: the mounted folder has prometheus.yml and every rule file it
# names; --config.file points into the mount; scrape targets are services.
p = services.get("prometheus", {})
check(p.get("image") == "prom/prometheus:v2.42.0", "prometheus image is prom/prometheus:v2.42.0")
conf_arg = next((a.split("=", 1)[1] for a in p.get("command", []) if a.startswith("--config.file=")), "")
prom_host = host_of("prometheus", os.path.dirname(conf_arg))
prom_yml = os.path.join(prom_host or "/nonexistent", os.path.basename(conf_arg))
check(os.path.isfile(prom_yml) and os.path.basename(conf_arg) == "prometheus.yml",
      f"--config.file={conf_arg} is prometheus.yml in the mounted folder")
if os.path.isfile(prom_yml):
    pc = yaml.safe_load(open(prom_yml))
    rules = pc.get("rule_files", [])
    check(len(rules) > 0 and all(glob.glob(os.path.join(prom_host, r)) for r in rules),
          f"the prometheus mount holds its rule files {rules}")
    for job in pc.get("scrape_configs", []):
        for sc in job.get("static_configs", []):
            for t in sc.get("targets", []):
                check(t.split(":")[0] in services, f"scrape target {t} is a compose service")

# Grafana: datasource file with the fixed uid, default, at prometheus:9090.
gr = services.get("grafana", {})
env = gr.get("environment", {})
check(str(gr.get("image", "")).startswith("grafana/grafana:9.5."), "grafana image is 9.5.x")
check(env.get("GF_SECURITY_ADMIN_PASSWORD") == "admin", "admin password defaults to admin")
ds_dir = host_of("grafana", "/etc/grafana/provisioning/datasources")
ds = []
for f in sorted(glob.glob(os.path.join(ds_dir or "/nonexistent", "*.y*ml"))):
    ds += yaml.safe_load(open(f)).get("datasources", [])
fixed = [d for d in ds if d.get("uid") == "corostorm-prometheus"]
check(len(fixed) == 1 and fixed[0].get("type") == "prometheus"
      and fixed[0].get("url") == "http://prometheus:9090" and fixed[0].get("isDefault") is True,
      "datasource uid corostorm-prometheus: prometheus, http://prometheus:9090, isDefault")

# Grafana dashboards: the provider's path is where the dashboards folder is
# mounted, and that folder holds the three dashboards, whose ${datasource}
# has no saved value (so it takes the default data source above).
prov = host_of("grafana", "/etc/grafana/provisioning/dashboards/corostorm.yml")
paths = []
if prov and os.path.isfile(prov):
    paths = [pr["options"]["path"] for pr in yaml.safe_load(open(prov)).get("providers", [])]
check(len(paths) == 1, "one dashboard file provider is mounted")
dash_host = host_of("grafana", paths[0]) if paths else None
check(dash_host is not None, f"the provider's path {paths[:1]} is a bind mount")
for name in ("overview", "latency", "memory"):
    f = os.path.join(dash_host or "/nonexistent", name + ".json")
    ok_file = os.path.isfile(f)
    if ok_file:
        var = [v for v in json.load(open(f))["templating"]["list"] if v["name"] == "datasource"]
        ok_file = len(var) == 1 and var[0].get("query") == "prometheus" and not var[0].get("current")
    check(ok_file, f"dashboards mount has {name}.json, its ${{datasource}} defaults to the default data source")
home = env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "")
if home:
    check(dash_host is not None and home.startswith(paths[0] + "/")
          and os.path.isfile(os.path.join(dash_host, os.path.relpath(home, paths[0]))),
          f"home dashboard {home} is a mounted file")
PY
cat "$E2E_TMP/checks"
((PY_RC == 0)) || die "the checks stopped (exit $PY_RC): $(tail -n 5 "$E2E_TMP/checks.err")"
FAILS=$(grep -c '^FAIL' "$E2E_TMP/checks" || true)
((FAILS == 0)) || die "$FAILS check(s) failed"
echo "all compose checks passed"
