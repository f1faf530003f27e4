//! The plan of a traffic switch: which statuses change, which instance stays warm, which stop.
//! Computed from facts the engine read; the engine applies it in one transaction.

use crate::RevisionStatus;

/// How the revision that loses traffic is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abandon {
    /// An operator undid it; `forced_over` names the schema problems the operator overrode.
    Undone { actor: String, forced_over: Vec<String> },
    /// It failed (its soak, or a restart).
    Failed { reason: String },
}

/// The revision traffic moves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub revision: u64,
    pub status: RevisionStatus,
}

/// The revision that served until now (when it is another one than the target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub revision: u64,
    pub status: RevisionStatus,
    pub status_reason: Option<String>,
}

/// What an instance of the app is doing now, as the plan needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceNow {
    pub revision: u64,
    pub warm: bool,
    pub alive: bool,
}

/// Everything a switch decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchPlan {
    /// The target's status from now on.
    pub status: RevisionStatus,
    /// Whether it soaks (the caller sets the end of the soak).
    pub soaking: bool,
    /// The previous revision's new status and reason.
    pub previous: Option<(u64, RevisionStatus, Option<String>)>,
    /// The instance kept warm: the one that served until now.
    pub keep_warm: Option<u64>,
    /// Instances to drain and stop.
    pub stop: Vec<u64>,
}

/// Plan a switch to `target` from `previous_live` (the live revision before it; equal to the target
/// when the live revision restarts in place). `previous` holds that revision's facts when it is
/// another one. At most one warm instance is kept: the one that served until now, unless it failed
/// or is dead; a restart in place leaves warm instances alone.
pub fn plan_switch(
    target: Target,
    previous_live: Option<u64>,
    previous: Option<&Previous>,
    abandon: Option<&Abandon>,
    soak_enabled: bool,
    instances: &[InstanceNow],
) -> SwitchPlan {
    let status = if target.status.is_proven() {
        target.status
    } else if soak_enabled {
        RevisionStatus::Soaking
    } else {
        RevisionStatus::Live
    };
    let previous = previous.filter(|p| p.revision != target.revision).map(|prev| {
        let (next, reason) = match abandon {
            None => (prev.status.after_replaced(), Some(format!("replaced by revision {}", target.revision))),
            Some(Abandon::Undone { actor, forced_over }) => (
                prev.status.after_abandoned(),
                Some(if forced_over.is_empty() {
                    format!("undone by {actor}, traffic back on revision {}", target.revision)
                } else {
                    format!(
                        "undone by {actor}, traffic back on revision {} (forced over: {})",
                        target.revision,
                        forced_over.join(", ")
                    )
                }),
            ),
            Some(Abandon::Failed { reason }) => (RevisionStatus::Failed, Some(reason.clone())),
        };
        let reason = if next == prev.status { prev.status_reason.clone() } else { reason };
        (prev.revision, next, reason)
    });
    let keep_prev_warm = !matches!(abandon, Some(Abandon::Failed { .. }));
    let restart_in_place = previous_live == Some(target.revision);
    let mut keep_warm = None;
    let mut stop = Vec::new();
    for i in instances {
        if i.revision == target.revision || (restart_in_place && i.warm) {
            continue;
        }
        if Some(i.revision) == previous_live && keep_prev_warm && i.alive {
            keep_warm = Some(i.revision);
        } else {
            stop.push(i.revision);
        }
    }
    SwitchPlan { status, soaking: status == RevisionStatus::Soaking, previous, keep_warm, stop }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RevisionStatus::*;

    fn inst(revision: u64, warm: bool, alive: bool) -> InstanceNow {
        InstanceNow { revision, warm, alive }
    }

    fn prev(revision: u64, status: RevisionStatus) -> Previous {
        Previous { revision, status, status_reason: Some("earlier".into()) }
    }

    #[test]
    fn table() {
        let undone = Abandon::Undone { actor: "ana".into(), forced_over: vec![] };
        let forced = Abandon::Undone { actor: "ana".into(), forced_over: vec!["users.email".into()] };
        let failed = Abandon::Failed { reason: "died during soak".into() };
        struct Case {
            name: &'static str,
            target: Target,
            live: Option<u64>,
            previous: Option<Previous>,
            abandon: Option<Abandon>,
            soak: bool,
            instances: Vec<InstanceNow>,
            want: SwitchPlan,
        }
        let cases = [
            Case {
                name: "first release soaks, nothing to stop",
                target: Target { revision: 1, status: Deploying },
                live: None,
                previous: None,
                abandon: None,
                soak: true,
                instances: vec![inst(1, false, true)],
                want: SwitchPlan { status: Soaking, soaking: true, previous: None, keep_warm: None, stop: vec![] },
            },
            Case {
                name: "release without soak is live; old warm stops, serving one stays warm",
                target: Target { revision: 3, status: Deploying },
                live: Some(2),
                previous: Some(prev(2, KnownGood)),
                abandon: None,
                soak: false,
                instances: vec![inst(1, true, true), inst(2, false, true), inst(3, false, true)],
                want: SwitchPlan {
                    status: Live,
                    soaking: false,
                    previous: Some((2, KnownGood, Some("earlier".into()))),
                    keep_warm: Some(2),
                    stop: vec![1],
                },
            },
            Case {
                name: "a soaking revision replaced is superseded",
                target: Target { revision: 3, status: Deploying },
                live: Some(2),
                previous: Some(prev(2, Soaking)),
                abandon: None,
                soak: true,
                instances: vec![inst(2, false, true)],
                want: SwitchPlan {
                    status: Soaking,
                    soaking: true,
                    previous: Some((2, Superseded, Some("replaced by revision 3".into()))),
                    keep_warm: Some(2),
                    stop: vec![],
                },
            },
            Case {
                name: "undo to a proven revision keeps its status; the undone one is rolled back and warm",
                target: Target { revision: 1, status: KnownGood },
                live: Some(2),
                previous: Some(prev(2, Soaking)),
                abandon: Some(undone.clone()),
                soak: true,
                instances: vec![inst(1, true, true), inst(2, false, true)],
                want: SwitchPlan {
                    status: KnownGood,
                    soaking: false,
                    previous: Some((2, RolledBack, Some("undone by ana, traffic back on revision 1".into()))),
                    keep_warm: Some(2),
                    stop: vec![],
                },
            },
            Case {
                name: "a forced undo names what it overrode",
                target: Target { revision: 1, status: KnownGood },
                live: Some(2),
                previous: Some(prev(2, Live)),
                abandon: Some(forced),
                soak: true,
                instances: vec![],
                want: SwitchPlan {
                    status: KnownGood,
                    soaking: false,
                    previous: Some((
                        2,
                        RolledBack,
                        Some("undone by ana, traffic back on revision 1 (forced over: users.email)".into()),
                    )),
                    keep_warm: None,
                    stop: vec![],
                },
            },
            Case {
                name: "a failed revision is not kept warm",
                target: Target { revision: 1, status: KnownGood },
                live: Some(2),
                previous: Some(prev(2, Soaking)),
                abandon: Some(failed),
                soak: true,
                instances: vec![inst(1, true, true), inst(2, false, true)],
                want: SwitchPlan {
                    status: KnownGood,
                    soaking: false,
                    previous: Some((2, Failed, Some("died during soak".into()))),
                    keep_warm: None,
                    stop: vec![2],
                },
            },
            Case {
                name: "a dead previous instance is stopped, not kept warm",
                target: Target { revision: 3, status: Deploying },
                live: Some(2),
                previous: Some(prev(2, KnownGood)),
                abandon: None,
                soak: true,
                instances: vec![inst(2, false, false)],
                want: SwitchPlan {
                    status: Soaking,
                    soaking: true,
                    previous: Some((2, KnownGood, Some("earlier".into()))),
                    keep_warm: None,
                    stop: vec![2],
                },
            },
            Case {
                name: "restart in place leaves warm instances alone",
                target: Target { revision: 2, status: KnownGood },
                live: Some(2),
                previous: None,
                abandon: None,
                soak: true,
                instances: vec![inst(1, true, true), inst(2, false, false)],
                want: SwitchPlan { status: KnownGood, soaking: false, previous: None, keep_warm: None, stop: vec![] },
            },
        ];
        for c in cases {
            let got = plan_switch(c.target, c.live, c.previous.as_ref(), c.abandon.as_ref(), c.soak, &c.instances);
            assert_eq!(got, c.want, "{}", c.name);
        }
    }
}
