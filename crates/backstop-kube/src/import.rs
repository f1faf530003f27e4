//! `backstop import`: an existing Deployment's ReplicaSets, read as the history backstop adopts.
//!
//! Each ReplicaSet the Deployment owns is one past revision: its number is the
//! `deployment.kubernetes.io/revision` annotation, its change-cause the `kubernetes.io/change-cause`
//! annotation, its image the release container's. A revision must be pinned to a digest to be
//! restorable: the image's own digest, or the one its running pods report; a ReplicaSet with
//! neither is listed as skipped, with the reason.

use backstop_core::Digest;
use backstop_core::image::ImageRef;
use backstop_driver::{PastHistory, PastRevision};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client};

const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";

/// The history of a Deployment from its ReplicaSets and their pods, oldest first. Pure.
pub fn history_of(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    container: Option<&str>,
) -> PastHistory {
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let mut out = PastHistory::default();
    let mut owned: Vec<(u64, &ReplicaSet)> = replica_sets
        .iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .as_ref()
                .is_some_and(|o| o.iter().any(|r| r.uid == uid && r.kind == "Deployment"))
        })
        .filter_map(|rs| {
            let n = rs.metadata.annotations.as_ref()?.get(REVISION_ANNOTATION)?.parse::<u64>().ok()?;
            Some((n, rs))
        })
        .collect();
    owned.sort_by_key(|(n, _)| *n);
    for (number, rs) in owned {
        let name = rs.metadata.name.clone().unwrap_or_default();
        let containers =
            rs.spec.as_ref().and_then(|s| s.template.as_ref()).and_then(|t| t.spec.as_ref()).map(|p| &p.containers);
        let Some(c) = containers.and_then(|cs| match container {
            Some(want) => cs.iter().find(|c| c.name == want),
            None => cs.first(),
        }) else {
            out.skipped.push(format!("ReplicaSet {name} (revision {number}): no such container"));
            continue;
        };
        let image = c.image.clone().unwrap_or_default();
        let pinned = match ImageRef::parse(&image) {
            Ok(r) => Some((r.pinned(), r.digest)),
            // A tag: pinned by what a running pod of this ReplicaSet reports.
            Err(_) => reported_digest(rs, pods, &c.name).map(|d| (format!("{}@{d}", repository_of(&image)), d)),
        };
        let Some((image, digest)) = pinned else {
            out.skipped.push(format!(
                "ReplicaSet {name} (revision {number}): image {image} has no digest and no running pod reports one"
            ));
            continue;
        };
        let change_cause =
            rs.metadata.annotations.as_ref().and_then(|a| a.get(CHANGE_CAUSE_ANNOTATION)).cloned().unwrap_or_default();
        out.revisions.push(PastRevision {
            number,
            change_cause,
            image,
            digest,
            origin: format!(
                "ReplicaSet {name} (revision {number} of Deployment {})",
                deployment.metadata.name.clone().unwrap_or_default()
            ),
        });
    }
    out
}

/// The image name without its tag.
fn repository_of(image: &str) -> &str {
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].find(':') {
        Some(i) => &image[..last_slash + i],
        None => image,
    }
}

/// The digest a running pod of the ReplicaSet reports for the container.
fn reported_digest(rs: &ReplicaSet, pods: &[Pod], container: &str) -> Option<Digest> {
    let uid = rs.metadata.uid.clone()?;
    pods.iter()
        .filter(|p| p.metadata.owner_references.as_ref().is_some_and(|o| o.iter().any(|r| r.uid == uid)))
        .flat_map(|p| p.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default())
        .filter(|s| s.name == container)
        .find_map(|s| s.image_id.rsplit('@').next().and_then(|d| d.parse::<Digest>().ok()))
}

/// Read a Deployment's history from the cluster.
pub async fn read(
    client: &Client,
    namespace: &str,
    deployment: &str,
    container: Option<&str>,
) -> Result<PastHistory, String> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let d = deployments
        .get_opt(deployment)
        .await
        .map_err(|e| format!("cannot read Deployment {namespace}/{deployment}: {e}"))?
        .ok_or_else(|| format!("Deployment {namespace}/{deployment} does not exist"))?;
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let replica_sets =
        rs.list(&ListParams::default()).await.map_err(|e| format!("cannot list ReplicaSets: {e}"))?.items;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pods = pods.list(&ListParams::default()).await.map_err(|e| format!("cannot list pods: {e}"))?.items;
    Ok(history_of(&d, &replica_sets, &pods, container))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn rs(name: &str, owner: &str, revision: Option<&str>, cause: Option<&str>, image: &str) -> ReplicaSet {
        let mut annotations = serde_json::Map::new();
        if let Some(r) = revision {
            annotations.insert(REVISION_ANNOTATION.into(), r.into());
        }
        if let Some(c) = cause {
            annotations.insert(CHANGE_CAUSE_ANNOTATION.into(), c.into());
        }
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "uid": format!("uid-{name}"), "annotations": annotations,
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner }] },
            "spec": { "selector": {}, "template": { "spec": { "containers": [{ "name": "web", "image": image }] } } }
        }))
        .expect("replica set")
    }

    fn pod(owner_rs: &str, image_id: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "p", "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner_rs, "uid": format!("uid-{owner_rs}") }] },
            "status": { "containerStatuses": [{ "name": "web", "image": "x", "imageID": image_id, "ready": true, "restartCount": 0 }] }
        }))
        .expect("pod")
    }

    #[test]
    fn replica_sets_become_past_revisions_oldest_first() {
        let dep: Deployment =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": "web", "uid": "dep" } }))
                .expect("deployment");
        let sets = vec![
            rs("web-c", "dep", Some("3"), Some("third"), &format!("registry.example/web@{}", d(3))),
            rs("web-a", "dep", Some("1"), Some("first"), &format!("registry.example/web:v1@{}", d(1))),
            rs("web-b", "dep", Some("2"), None, "registry.example/web:v2"),
            rs("web-t", "dep", Some("4"), None, "registry.example/web:v4"),
            rs("other", "someone-else", Some("9"), None, &format!("registry.example/web@{}", d(9))),
            rs("web-x", "dep", None, None, &format!("registry.example/web@{}", d(8))),
        ];
        let pods = vec![pod("web-b", &format!("docker-pullable://registry.example/web@{}", d(2)))];
        let h = history_of(&dep, &sets, &pods, None);
        let got: Vec<(u64, &str, String)> =
            h.revisions.iter().map(|r| (r.number, r.change_cause.as_str(), r.image.clone())).collect();
        assert_eq!(
            got,
            vec![
                (1, "first", format!("registry.example/web@{}", d(1))),
                (2, "", format!("registry.example/web@{}", d(2))),
                (3, "third", format!("registry.example/web@{}", d(3))),
            ]
        );
        assert_eq!(h.skipped.len(), 1, "{:?}", h.skipped);
        assert!(h.skipped[0].contains("web-t") && h.skipped[0].contains("no digest"), "{:?}", h.skipped);
        assert!(h.revisions[0].origin.contains("web-a"));
    }

    #[test]
    fn a_missing_container_is_skipped_with_the_reason() {
        let dep: Deployment =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": "web", "uid": "dep" } }))
                .expect("deployment");
        let sets = vec![rs("web-a", "dep", Some("1"), None, &format!("registry.example/web@{}", d(1)))];
        let h = history_of(&dep, &sets, &[], Some("api"));
        assert!(h.revisions.is_empty());
        assert!(h.skipped[0].contains("no such container"), "{:?}", h.skipped);
    }
}
