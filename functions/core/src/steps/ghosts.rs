//! Ghost nodes: K3s runs no cloud controller, so the Node of an instance that died outside
//! SmartScale (terminated in the console, reclaimed Spot, a failed host) stays in the API forever,
//! NotReady. Such a Node would count toward `MIN_NODES`, `MAX_NODES` and the NotReady breaker and
//! hold back a needed replacement; Evaluate deletes it and leaves it out of the fleet.

use super::identity::claimed_instance;
use crate::model::ClusterView;
use crate::seams::ManagedInstance;

/// Worker Nodes that may be ghosts: NotReady, not the control plane, naming an instance that is
/// not pending or running among the cluster's managed instances. Pairs of (node, instance id).
/// Whether the instance is really gone is EC2's answer ([`crate::seams::NodeProvisioner::gone`]):
/// a NotReady Node of a live instance is never a ghost.
pub fn suspects(view: &ClusterView, managed: &[ManagedInstance]) -> Vec<(String, String)> {
    view.workers()
        .filter(|n| !n.ready)
        .filter_map(|n| claimed_instance(n).map(|id| (n.name.clone(), id)))
        .filter(|(_, id)| {
            !managed
                .iter()
                .any(|m| &m.instance_id == id && matches!(m.state.as_str(), "pending" | "running"))
        })
        .collect()
}

/// The sentence Evaluate reports for a deleted ghost.
pub fn sentence(node: &str, instance_id: &str) -> String {
    format!(
        "deleted ghost node {node}: its instance {instance_id} is gone (terminated outside SmartScale); it no longer counts as a worker"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::*;

    #[test]
    fn who_is_suspected() {
        // (name, node ready, instance state in EC2 (None: not managed), want suspected)
        let cases: Vec<(&str, bool, Option<&str>, bool)> = vec![
            ("Ready node", true, None, false),
            ("NotReady, instance running", false, Some("running"), false),
            ("NotReady, instance stopped", false, Some("stopped"), true),
            (
                "NotReady, instance shutting down",
                false,
                Some("shutting-down"),
                true,
            ),
            ("NotReady, not a managed instance", false, None, true),
        ];
        for (name, ready, state, want) in cases {
            let mut cp = node("cp", Some("i-cp"), false);
            cp.control_plane = true;
            let view = ClusterView {
                nodes: vec![cp, node("w1", Some("i-1"), ready)],
                ..ClusterView::default()
            };
            let managed: Vec<ManagedInstance> = state
                .map(|s| {
                    let mut i = instance("i-1", None);
                    i.state = s.into();
                    i
                })
                .into_iter()
                .collect();
            let got = suspects(&view, &managed);
            let want: Vec<(String, String)> = if want {
                vec![("w1".into(), "i-1".into())]
            } else {
                vec![]
            };
            assert_eq!(
                got, want,
                "case {name}: the control plane is never suspected"
            );
        }
    }
}
