//! The Deployment of one revision, made from the app's template. No I/O.
//!
//! backstop owns, in the template: the name (`APP-rN`), the namespace, the two labels that tie
//! pods to an app's revision (on the Deployment, its selector and its pod template), the replica
//! count, and the image of the release's container. Everything else (resources, probes, volumes,
//! the user's own labels) is the template's. A template without a readiness probe on the
//! release's container gets one on the app's health path, so "available" means "answers".

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, EnvVar, HTTPGetAction, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The label naming the app, and the one naming the revision, on every object backstop makes.
pub const APP_LABEL: &str = "backstop/app";
pub const REVISION_LABEL: &str = "backstop/revision";

/// Largest template accepted.
pub const MAX_TEMPLATE_BYTES: usize = 1 << 20;

/// What varies per revision.
#[derive(Debug, Clone)]
pub struct RevisionSpec<'a> {
    pub app: &'a str,
    pub revision: u64,
    pub namespace: &'a str,
    /// The image pinned by digest.
    pub image: &'a str,
    pub replicas: i32,
    pub container: Option<&'a str>,
    pub health: &'a str,
    /// Added to the release's container (`BACKSTOP_REVISION`, the app's `env`).
    pub env: &'a [(String, String)],
}

/// Read a Deployment template and check it can carry a release.
pub fn parse_template(text: &str, container: Option<&str>) -> Result<Deployment, String> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(format!("is {} bytes, more than the limit of {MAX_TEMPLATE_BYTES}", text.len()));
    }
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| format!("is not YAML: {e}"))?;
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    if kind != "Deployment" {
        return Err(format!("is a `{kind}`, expected kind: Deployment"));
    }
    let d: Deployment = serde_yaml::from_value(value).map_err(|e| format!("is not a valid Deployment: {e}"))?;
    let containers = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).map(|p| &p.containers);
    match (containers, container) {
        (None, _) => return Err("has no containers under spec.template.spec".into()),
        (Some(c), _) if c.is_empty() => return Err("has no containers under spec.template.spec".into()),
        (Some(c), Some(name)) if !c.iter().any(|c| c.name == name) => {
            return Err(format!("has no container named `{name}` (the `container` setting)"));
        }
        _ => {}
    }
    Ok(d)
}

fn release_container<'d>(containers: &'d mut [Container], name: Option<&str>) -> Option<&'d mut Container> {
    match name {
        Some(n) => containers.iter_mut().find(|c| c.name == n),
        None => containers.first_mut(),
    }
}

/// The image the release's container of a Deployment runs.
pub fn image_of(d: &Deployment, container: Option<&str>) -> Option<String> {
    let containers = &d.spec.as_ref()?.template.spec.as_ref()?.containers;
    let c = match container {
        Some(n) => containers.iter().find(|c| c.name == n)?,
        None => containers.first()?,
    };
    c.image.clone()
}

/// The labels tying objects to an app's revision.
pub fn revision_labels(app: &str, revision: u64) -> BTreeMap<String, String> {
    BTreeMap::from([(APP_LABEL.to_owned(), app.to_owned()), (REVISION_LABEL.to_owned(), revision.to_string())])
}

/// The Deployment of one revision.
pub fn revision_deployment(template: &Deployment, r: &RevisionSpec<'_>) -> Result<Deployment, String> {
    let mut d = template.clone();
    let labels = revision_labels(r.app, r.revision);
    let meta = &mut d.metadata;
    meta.name = Some(crate::deployment_name(r.app, r.revision));
    meta.namespace = Some(r.namespace.to_owned());
    meta.resource_version = None;
    meta.uid = None;
    meta.creation_timestamp = None;
    meta.generation = None;
    meta.managed_fields = None;
    meta.labels.get_or_insert_with(BTreeMap::new).extend(labels.clone());
    d.status = None;
    let spec = d.spec.as_mut().ok_or("the template has no spec")?;
    spec.replicas = Some(r.replicas);
    spec.selector.match_labels = Some(labels.clone());
    spec.selector.match_expressions = None;
    spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new).extend(labels);
    let pod = spec.template.spec.as_mut().ok_or("the template has no pod spec")?;
    let c = release_container(&mut pod.containers, r.container).ok_or("the template has no such container")?;
    c.image = Some(r.image.to_owned());
    let env = c.env.get_or_insert_with(Vec::new);
    for (name, value) in r.env {
        env.retain(|e| &e.name != name);
        env.push(EnvVar { name: name.clone(), value: Some(value.clone()), value_from: None });
    }
    if c.readiness_probe.is_none() {
        let port = c.ports.as_ref().and_then(|p| p.first()).map_or(8080, |p| p.container_port);
        c.readiness_probe = Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some(r.health.to_owned()),
                port: IntOrString::Int(port),
                ..Default::default()
            }),
            period_seconds: Some(2),
            ..Default::default()
        });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: anything
  labels: { team: shop }
spec:
  replicas: 9
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: sidecar
          image: registry.example/proxy:1
        - name: web
          image: registry.example/web:latest
          ports: [{ containerPort: 9000 }]
          env: [{ name: BACKSTOP_REVISION, value: stale }, { name: KEEP, value: "1" }]
"#;

    fn spec<'a>(env: &'a [(String, String)], container: Option<&'a str>) -> RevisionSpec<'a> {
        RevisionSpec {
            app: "web",
            revision: 7,
            namespace: "shop",
            image: "registry.example/web@sha256:abc",
            replicas: 2,
            container,
            health: "/healthz",
            env,
        }
    }

    #[test]
    fn a_revision_deployment_owns_name_labels_replicas_and_image() {
        let t = parse_template(TEMPLATE, Some("web")).expect("template");
        let env = vec![("BACKSTOP_REVISION".to_owned(), "7".to_owned())];
        let d = revision_deployment(&t, &spec(&env, Some("web"))).expect("deployment");
        assert_eq!(d.metadata.name.as_deref(), Some("web-r7"));
        assert_eq!(d.metadata.namespace.as_deref(), Some("shop"));
        let labels = d.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get("team").map(String::as_str), Some("shop"), "the template's labels stay");
        assert_eq!(labels.get(REVISION_LABEL).map(String::as_str), Some("7"));
        let s = d.spec.as_ref().expect("spec");
        assert_eq!(s.replicas, Some(2));
        assert_eq!(s.selector.match_labels, Some(revision_labels("web", 7)), "the selector is backstop's alone");
        let pod_labels = s.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        assert_eq!(pod_labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(pod_labels.get(APP_LABEL).map(String::as_str), Some("web"));
        let containers = &s.template.spec.as_ref().expect("pod").containers;
        assert_eq!(containers[0].image.as_deref(), Some("registry.example/proxy:1"), "other containers untouched");
        assert_eq!(containers[1].image.as_deref(), Some("registry.example/web@sha256:abc"));
        let env: Vec<(String, Option<String>)> =
            containers[1].env.clone().unwrap_or_default().into_iter().map(|e| (e.name, e.value)).collect();
        assert_eq!(env, vec![("KEEP".into(), Some("1".into())), ("BACKSTOP_REVISION".into(), Some("7".into()))]);
        let probe = containers[1].readiness_probe.as_ref().and_then(|p| p.http_get.clone()).expect("probe added");
        assert_eq!((probe.path.as_deref(), probe.port), (Some("/healthz"), IntOrString::Int(9000)));
        assert_eq!(image_of(&d, Some("web")).as_deref(), Some("registry.example/web@sha256:abc"));
    }

    #[test]
    fn the_first_container_is_the_release_when_none_is_named() {
        let t = parse_template(TEMPLATE, None).expect("template");
        let d = revision_deployment(&t, &spec(&[], None)).expect("deployment");
        assert_eq!(image_of(&d, None).as_deref(), Some("registry.example/web@sha256:abc"));
        let first = &d.spec.as_ref().expect("spec").template.spec.as_ref().expect("pod").containers[0];
        let port = first.readiness_probe.as_ref().and_then(|p| p.http_get.as_ref()).map(|h| h.port.clone());
        assert_eq!(port, Some(IntOrString::Int(8080)), "no port declared: 8080");
    }

    #[test]
    fn templates_that_cannot_carry_a_release_are_refused() {
        let cases = [
            ("kind: Service\napiVersion: v1\nmetadata: {name: x}\n", "expected kind: Deployment"),
            ("{{{", "not YAML"),
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  selector: {}\n  template:\n    spec:\n      containers: []\n",
                "no containers",
            ),
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: \"two\"}\n",
                "not a valid Deployment",
            ),
        ];
        for (text, want) in cases {
            let e = parse_template(text, None).expect_err(text);
            assert!(e.contains(want), "{text}: {e}");
        }
        let e = parse_template(TEMPLATE, Some("db")).expect_err("no such container");
        assert!(e.contains("no container named `db`"), "{e}");
        let big = format!("# {}\n{TEMPLATE}", "x".repeat(MAX_TEMPLATE_BYTES));
        assert!(parse_template(&big, None).expect_err("too big").contains("limit"));
    }
}
