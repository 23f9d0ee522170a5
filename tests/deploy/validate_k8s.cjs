// Validates Kubernetes manifests against the API schemas (npm kubernetes-models,
// @kubernetes-models/prometheus-operator) and checks corostorm's own rules on
// the validated objects: non-root, read-only root, no capabilities, probes,
// resources, a ServiceMonitor that really selects the Service, a
// PrometheusRule with the fields the operator needs, and the Grafana
// dashboard ConfigMaps.
//
// usage: node validate_k8s.cjs KUSTOMIZE_DIR        the folder's kustomization
//                                                   and the files it lists
//        node validate_k8s.cjs --rendered FILE CONFIG   the output of
//                                                   `kubectl kustomize`; CONFIG is
//                                                   the file the ConfigMap must carry
// The npm modules are found through NODE_PATH. Prints one "ok"/"FAIL" line a
// check; exits 1 when any check fails, 2 on bad usage.
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

let failed = 0;
const ok = (msg) => console.log(`ok   - ${msg}`);
const fail = (msg) => {
  console.log(`FAIL - ${msg}`);
  failed++;
};
const check = (cond, msg) => (cond ? ok(msg) : fail(msg));

// The model module for an apiVersion: core and built-in groups from
// kubernetes-models, monitoring.coreos.com from the prometheus-operator models.
function modelModule(apiVersion) {
  if (apiVersion.startsWith('monitoring.coreos.com/')) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  }
  return `kubernetes-models/${apiVersion}`;
}

// Parses every document of FILE and validates it against its schema.
// Returns the plain objects that passed.
function loadAndValidate(file) {
  const objects = [];
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  for (const doc of docs) {
    if (doc.errors.length) {
      fail(`${file}: YAML error: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue; // an empty document
    const { apiVersion, kind } = obj;
    const name = obj.metadata && obj.metadata.name;
    const what = `${path.basename(file)}: ${kind}/${name}`;
    if (!apiVersion || !kind) {
      fail(`${file}: a document without apiVersion or kind`);
      continue;
    }
    let Model;
    try {
      Model = require(modelModule(apiVersion))[kind];
    } catch (e) {
      fail(`${what}: no schema for ${apiVersion} (${e.message.split('\n')[0]})`);
      continue;
    }
    if (typeof Model !== 'function') {
      fail(`${what}: no model for kind ${kind} in ${apiVersion}`);
      continue;
    }
    try {
      new Model(obj).validate();
      ok(`${what} is a valid ${apiVersion} ${kind}`);
      objects.push(obj);
    } catch (e) {
      fail(`${what}: ${e.message}`);
    }
  }
  return objects;
}

// corostorm's rules on the validated objects.
function checkPolicy(objects, configFile) {
  const byKind = (k) => objects.filter((o) => o.kind === k);
  const [deploy] = byKind('Deployment');
  const [service] = byKind('Service');
  const [monitor] = byKind('ServiceMonitor');
  if (!deploy || !service || !monitor) {
    fail('expected a Deployment, a Service and a ServiceMonitor');
    return;
  }

  const pod = deploy.spec.template.spec;
  const podSec = pod.securityContext || {};
  const c = pod.containers.find((x) => x.name === 'corostorm') || pod.containers[0];
  const sec = c.securityContext || {};
  // A container setting overrides the pod's.
  const eff = (key) => (sec[key] !== undefined ? sec[key] : podSec[key]);
  check(c.image === 'corostorm:latest' && c.imagePullPolicy === 'IfNotPresent',
    'Deployment: image corostorm:latest, imagePullPolicy IfNotPresent');
  check(JSON.stringify(c.args) === JSON.stringify(['-c', '/etc/corostorm/corostorm.yaml']),
    'Deployment: args -c /etc/corostorm/corostorm.yaml');
  check(eff('runAsNonRoot') === true && eff('runAsUser') === 10001,
    'Deployment: runAsNonRoot, runAsUser 10001');
  check(sec.readOnlyRootFilesystem === true, 'Deployment: readOnlyRootFilesystem');
  check(sec.allowPrivilegeEscalation === false, 'Deployment: allowPrivilegeEscalation false');
  check(!!sec.capabilities && JSON.stringify(sec.capabilities.drop) === '["ALL"]' &&
    !(sec.capabilities.add || []).length, 'Deployment: capabilities drop ALL, add none');
  const seccomp = eff('seccompProfile');
  check(!!seccomp && seccomp.type === 'RuntimeDefault', 'Deployment: seccompProfile RuntimeDefault');

  const port = (c.ports || []).find((p) => p.name === 'metrics');
  check(!!port && port.containerPort === 9464, 'Deployment: port 9464 named metrics');
  const probe = (p, wantPath) => !!p && !!p.httpGet && p.httpGet.path === wantPath &&
    (p.httpGet.port === 'metrics' || p.httpGet.port === 9464);
  check(probe(c.livenessProbe, '/healthz'), 'Deployment: livenessProbe GET /healthz on metrics');
  check(probe(c.readinessProbe, '/readyz'), 'Deployment: readinessProbe GET /readyz on metrics');
  check(probe(c.startupProbe, '/healthz'), 'Deployment: startupProbe GET /healthz on metrics');
  const res = c.resources || {};
  const has = (o) => !!o && o.cpu !== undefined && o.memory !== undefined;
  check(has(res.requests) && has(res.limits), 'Deployment: cpu and memory requests and limits set');

  const mount = (c.volumeMounts || []).find((m) => m.mountPath === '/etc/corostorm');
  const vol = mount && (pod.volumes || []).find((v) => v.name === mount.name);
  const cmName = vol && vol.configMap && vol.configMap.name;
  check(!!cmName && cmName.startsWith('corostorm-config'),
    `Deployment: /etc/corostorm mounted from ConfigMap corostorm-config (${cmName})`);

  // Service: selects the pod, exposes 9464 as "metrics".
  const podLabels = deploy.spec.template.metadata.labels || {};
  const matches = (selector, labels) =>
    Object.entries(selector || {}).every(([k, v]) => labels[k] === v) &&
    Object.keys(selector || {}).length > 0;
  check(service.spec.type === 'ClusterIP', 'Service: type ClusterIP');
  check(matches(service.spec.selector, podLabels), 'Service: selector matches the pod labels');

  // A drain is bounded by 30 s (drain_timeout in src/daemon/assembly.h); the kubelet's
  // SIGKILL must not come before it ends.
  check(pod.terminationGracePeriodSeconds > 30,
    `Deployment: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > the 30 s drain bound`);
  const spread = (pod.topologySpreadConstraints || [])[0];
  check(!!spread && spread.topologyKey === 'kubernetes.io/hostname' &&
    matches(spread.labelSelector.matchLabels, podLabels),
    'Deployment: topology spread across nodes, selecting its own pods');
  for (const key of ['name', 'instance', 'component', 'part-of']) {
    check(!!podLabels[`app.kubernetes.io/${key}`], `Deployment: pod label app.kubernetes.io/${key}`);
  }
  const [pdb] = byKind('PodDisruptionBudget');
  check(!!pdb && pdb.spec.maxUnavailable === 1 && matches(pdb.spec.selector.matchLabels, podLabels),
    'PodDisruptionBudget: maxUnavailable 1, selecting the pods');
  const svcPort = service.spec.ports.find((p) => p.name === 'metrics');
  check(!!svcPort && svcPort.port === 9464, 'Service: port 9464 named metrics');

  // ServiceMonitor: selects the Service, scrapes its metrics port every 15 s.
  check(matches(monitor.spec.selector.matchLabels, service.metadata.labels || {}),
    'ServiceMonitor: selector matches the Service labels');
  const ep = (monitor.spec.endpoints || [])[0] || {};
  check(ep.port === 'metrics' && ep.interval === '15s',
    'ServiceMonitor: endpoint port metrics, interval 15s');

  // The rendered ConfigMap carries the shipped config, byte for byte.
  if (configFile) {
    const cm = byKind('ConfigMap').find((o) => o.metadata.name === cmName);
    check(!!cm && cm.data && cm.data['corostorm.yaml'] === fs.readFileSync(configFile, 'utf8'),
      `ConfigMap ${cmName}: corostorm.yaml identical to ${configFile}`);
  }
}

// The monitoring objects: a PrometheusRule with the fields the operator needs
// (its schema leaves most of them optional), and one Grafana dashboard
// ConfigMap per dashboard, labelled for the kube-prometheus-stack sidecar.
function checkMonitoring(objects) {
  const rules = objects.filter((o) => o.kind === 'PrometheusRule');
  check(rules.length === 1, `one PrometheusRule (found ${rules.length})`);
  for (const pr of rules) {
    const what = `PrometheusRule/${pr.metadata.name}`;
    check(pr.apiVersion === 'monitoring.coreos.com/v1', `${what}: apiVersion monitoring.coreos.com/v1`);
    const groups = (pr.spec && pr.spec.groups) || [];
    check(groups.length > 0, `${what}: spec.groups is not empty`);
    const names = groups.map((g) => g.name);
    check(names.every((n) => typeof n === 'string' && n !== '') && new Set(names).size === names.length,
      `${what}: every group has a unique name`);
    let alerts = 0;
    let records = 0;
    const bad = [];
    for (const g of groups) {
      const list = g.rules || [];
      if (!list.length) bad.push(`group ${g.name} has no rules`);
      for (const r of list) {
        const id = `${g.name}/${r.alert || r.record}`;
        if ((typeof r.alert === 'string') === (typeof r.record === 'string') || !(r.alert || r.record)) {
          bad.push(`${id}: not exactly one of alert and record`);
        }
        if (typeof r.expr !== 'string' || r.expr.trim() === '') bad.push(`${id}: no expr`);
        if (r.alert) {
          alerts++;
          const a = r.annotations || {};
          for (const k of ['summary', 'description', 'runbook_url']) {
            if (typeof a[k] !== 'string' || a[k] === '') bad.push(`${id}: no ${k} annotation`);
          }
          if (!r.labels || typeof r.labels.severity !== 'string') bad.push(`${id}: no severity label`);
        } else if (r.record) {
          records++;
        }
      }
    }
    check(bad.length === 0, `${what}: every rule has alert or record, and an expr; every alert ` +
      `summary, description, runbook_url and severity${bad.length ? `: ${bad.join('; ')}` : ''}`);
    check(alerts > 0 && records > 0, `${what}: ${alerts} alerts and ${records} recording rules`);
  }

  const dashboards = objects.filter((o) => o.kind === 'ConfigMap' &&
    ((o.metadata.labels || {}).grafana_dashboard === '1'));
  check(dashboards.length === 3, `three ConfigMaps labelled grafana_dashboard: "1" (found ${dashboards.length})`);
  for (const cm of dashboards) {
    const entries = Object.entries(cm.data || {});
    let parsed = null;
    try {
      parsed = entries.length === 1 ? JSON.parse(entries[0][1]) : null;
    } catch (e) {
      parsed = null;
    }
    check(!!parsed && typeof parsed.uid === 'string' && entries[0][0] === `${parsed.uid}.json` &&
      Array.isArray(parsed.panels) && parsed.panels.length > 0,
      `ConfigMap/${cm.metadata.name}: one dashboard, <uid>.json, with panels`);
  }
}

function main(argv) {
  if (argv[0] === '--rendered' && argv.length === 3) {
    const objects = loadAndValidate(argv[1]);
    checkPolicy(objects, argv[2]);
    checkMonitoring(objects);
  } else if (argv.length === 1) {
    // Without kustomize: validate the files the kustomization lists, and check
    // that everything it refers to exists.
    const dir = argv[0];
    const kfile = path.join(dir, 'kustomization.yaml');
    const k = YAML.parse(fs.readFileSync(kfile, 'utf8'));
    check(k.kind === 'Kustomization' && Array.isArray(k.resources) && k.resources.length > 0,
      'kustomization.yaml: a Kustomization with resources');
    const objects = [];
    for (const r of k.resources || []) {
      const f = path.join(dir, r);
      if (!fs.existsSync(f)) {
        fail(`kustomization.yaml: resource ${r} does not exist`);
        continue;
      }
      objects.push(...loadAndValidate(f));
    }
    for (const g of k.configMapGenerator || []) {
      for (const entry of g.files || []) {
        const file = entry.includes('=') ? entry.split('=')[1] : entry;
        check(fs.existsSync(path.join(dir, file)),
          `kustomization.yaml: configMapGenerator ${g.name} file ${file} exists`);
      }
    }
    check((k.configMapGenerator || []).some((g) => g.name === 'corostorm-config'),
      'kustomization.yaml: generates ConfigMap corostorm-config');
    const pairs = (k.labels || []).map((l) => l.pairs || {}).concat([k.commonLabels || {}]);
    check(pairs.some((p) => p['app.kubernetes.io/name'] === 'corostorm'),
      'kustomization.yaml: labels app.kubernetes.io/name: corostorm on every object');
    checkPolicy(objects, null);
    checkMonitoring(objects);
  } else {
    console.error('usage: validate_k8s.cjs DIR | --rendered FILE CONFIG');
    process.exit(2);
  }
  process.exit(failed ? 1 : 0);
}

main(process.argv.slice(2));
