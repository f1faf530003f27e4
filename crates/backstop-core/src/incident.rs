//! The recovery ladder: from the facts about a bad release, which way back is available, which is
//! safe, and the first that is both.
//!
//! The rungs go from fastest and least disruptive to slowest: turn the release's guard flags off,
//! point traffic back at the previous revision's warm instance, start the previous artifact again,
//! or fix forward. The decision only reads [`Facts`]; gathering them (flags, instances, artifact
//! digests, schema compatibility) is the engine's job, so every reason here can name the fact it
//! turned on.

use serde::{Deserialize, Serialize};

use crate::analysis::Verdict;

/// Expected time to flip a flag off: instances see it over the flag stream.
const KILL_SWITCH_MS: u64 = 50;
/// Expected time to swap the proxy's upstream to a warm instance.
const TRAFFIC_SWAP_MS: u64 = 100;
/// Assumed cold start when none was ever measured.
const DEFAULT_COLD_START_MS: u64 = 5_000;
/// A rough figure for a hotfix: branch, fix, gate, deploy.
const ROLL_FORWARD_MS: u64 = 30 * 60 * 1000;

/// One way back, in ladder order: earlier rungs are faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rung {
    /// Turn the live revision's guard flags off.
    KillSwitch,
    /// Point traffic back at the target's warm instance.
    TrafficSwap,
    /// Start the target's artifact again, health-check it, then swap.
    Redeploy,
    /// Ship a fix on top of the live revision.
    RollForward,
}

impl Rung {
    pub const ALL: [Rung; 4] = [Rung::KillSwitch, Rung::TrafficSwap, Rung::Redeploy, Rung::RollForward];

    pub fn as_str(self) -> &'static str {
        match self {
            Rung::KillSwitch => "kill-switch",
            Rung::TrafficSwap => "traffic-swap",
            Rung::Redeploy => "redeploy",
            Rung::RollForward => "roll-forward",
        }
    }
}

/// A flag the live revision declared as guarding its new code, and its state now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardFlag {
    pub key: String,
    pub exists: bool,
    pub on: bool,
}

/// What the artifact store says of the target's artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ArtifactState {
    /// Present, and its digest matches the revision's.
    Verified,
    /// Not in the store (collected, or never uploaded here).
    Missing,
    /// Present, but its digest does not match.
    Tampered { detail: String },
}

/// Whether today's schema still gives the target everything it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum SchemaState {
    Compatible,
    /// No schema snapshot was recorded, so no change to it is known.
    Unknown,
    /// Something the target used is gone or narrowed, e.g. "revision 3 needs column users.full_name,
    /// dropped by the contract of revision 5".
    Incompatible {
        reason: String,
    },
}

/// Everything the decision is made from, as the engine gathered it. Stored with the incident, so
/// the decision can be explained later from the same facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub app: String,
    pub live_revision: Option<u64>,
    /// The live revision's latest canary verdict, if it was analysed.
    pub live_analysis: Option<Verdict>,
    /// The live revision's guard flags.
    pub guard_flags: Vec<GuardFlag>,
    /// The last known-good revision before the live one.
    pub target_revision: Option<u64>,
    /// Why there is no target (the rollback rule's refusal), when there is none.
    pub target_refusal: Option<String>,
    /// The target still has a running instance.
    pub target_warm: bool,
    pub target_artifact: ArtifactState,
    pub target_schema: SchemaState,
    /// The target's last measured time from start to healthy.
    pub target_cold_start_ms: Option<u64>,
    pub live_git_commit: Option<String>,
}

/// One rung as it stands for these facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RungAssessment {
    pub rung: Rung,
    /// Its preconditions hold: it can be done at all.
    pub available: bool,
    /// Doing it would not break the app.
    pub safe: bool,
    /// The fact that decided it.
    pub reason: String,
    pub expected_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Every rung, in ladder order.
    pub rungs: Vec<RungAssessment>,
    /// The first rung both available and safe (roll forward always is).
    pub recommended: Rung,
    /// The exact command that takes the recommended rung.
    pub command: String,
}

/// Walk the ladder over `facts` and recommend the first rung that is available and safe.
pub fn decide(facts: &Facts) -> Decision {
    let rungs = vec![kill_switch(facts), traffic_swap(facts), redeploy(facts), roll_forward(facts)];
    let recommended = rungs.iter().find(|r| r.available && r.safe).map_or(Rung::RollForward, |r| r.rung);
    Decision { command: command_for(recommended, facts), rungs, recommended }
}

/// The command that takes `rung` for `facts`' app, whether or not it is recommended.
pub fn command_for(rung: Rung, facts: &Facts) -> String {
    let app = &facts.app;
    match rung {
        Rung::KillSwitch => {
            let on = flags_on(facts);
            if on.is_empty() {
                "backstop flag list".to_owned()
            } else {
                on.iter()
                    .map(|f| format!("backstop flag off {} --reason \"kill switch\"", f.key))
                    .collect::<Vec<_>>()
                    .join(" && ")
            }
        }
        Rung::TrafficSwap | Rung::Redeploy => match facts.target_revision {
            Some(target) => format!("backstop undo {app} --to-revision {target}"),
            None => format!("backstop undo {app}"),
        },
        // A branch from exactly the commit in production (`hotfix start` makes it and says what
        // follows), then a release of the fix.
        Rung::RollForward => match (facts.live_revision, &facts.live_git_commit) {
            (Some(live), Some(_)) => format!("backstop hotfix start {app} --from-revision {live}"),
            _ => format!("backstop release {app} --artifact PATH --version V"),
        },
    }
}

/// The ladder for a terminal: one line per rung, ✓ for available and safe, ✗ otherwise, then the
/// recommendation and the command.
pub fn render_human(d: &Decision, facts: &Facts) -> String {
    let mut out = match (facts.live_revision, facts.live_analysis) {
        (Some(live), Some(verdict)) => {
            format!("{}: live revision {live} (analysis: {})\n", facts.app, verdict.as_str())
        }
        (Some(live), None) => format!("{}: live revision {live}\n", facts.app),
        (None, _) => format!("{}: nothing live\n", facts.app),
    };
    for r in &d.rungs {
        if r.available && r.safe {
            out.push_str(&format!("✓ {}: {} (about {})\n", r.rung.as_str(), r.reason, human_ms(r.expected_ms)));
        } else {
            out.push_str(&format!("✗ {}: {}\n", r.rung.as_str(), r.reason));
        }
    }
    out.push_str(&format!("recommended: {}\nrun: {}\n", d.recommended.as_str(), d.command));
    out
}

/// "50 ms", "5 s", "1.5 s", "30 min".
fn human_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 if ms % 1_000 == 0 => format!("{} s", ms / 1_000),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        _ => format!("{} min", ms.div_ceil(60_000)),
    }
}

fn flags_on(facts: &Facts) -> Vec<&GuardFlag> {
    facts.guard_flags.iter().filter(|f| f.exists && f.on).collect()
}

fn assessment(rung: Rung, available: bool, safe: bool, reason: String, expected_ms: u64) -> RungAssessment {
    RungAssessment { rung, available, safe, reason, expected_ms }
}

/// "a, b" for flag keys.
fn keys(flags: &[&GuardFlag]) -> String {
    flags.iter().map(|f| f.key.as_str()).collect::<Vec<_>>().join(", ")
}

fn kill_switch(facts: &Facts) -> RungAssessment {
    let unavailable = |reason: String| assessment(Rung::KillSwitch, false, false, reason, KILL_SWITCH_MS);
    let Some(live) = facts.live_revision else {
        return unavailable("nothing is live".to_owned());
    };
    let on = flags_on(facts);
    match (on.as_slice(), facts.guard_flags.as_slice()) {
        (_, []) => unavailable(format!("revision {live} is guarded by no flag")),
        ([flag], _) => assessment(
            Rung::KillSwitch,
            true,
            true,
            format!("flag {} guards revision {live} and is on", flag.key),
            KILL_SWITCH_MS,
        ),
        ([_, _, ..], _) => assessment(
            Rung::KillSwitch,
            true,
            true,
            format!("flags {} guard revision {live} and are on", keys(&on)),
            KILL_SWITCH_MS,
        ),
        ([], [flag]) if !flag.exists => {
            unavailable(format!("flag {} guarding revision {live} does not exist", flag.key))
        }
        ([], [flag]) => unavailable(format!("flag {} guarding revision {live} is already off", flag.key)),
        ([], flags) => {
            let states: Vec<String> = flags
                .iter()
                .map(|f| format!("{} {}", f.key, if f.exists { "is off" } else { "does not exist" }))
                .collect();
            unavailable(format!("no flag guarding revision {live} is on ({})", states.join(", ")))
        }
    }
}

/// Why there is no target, from the rollback rule's refusal when the engine gave one.
fn no_target(facts: &Facts) -> String {
    match (&facts.target_refusal, facts.live_revision) {
        (Some(refusal), _) => format!("no revision to go back to: {refusal}"),
        (None, Some(live)) => format!("no known-good revision before revision {live}"),
        (None, None) => "no known-good revision to go back to".to_owned(),
    }
}

/// Whether today's schema serves `target`, and the words for it: (safe, reason).
fn schema_verdict(target: u64, schema: &SchemaState) -> (bool, String) {
    match schema {
        SchemaState::Compatible => (true, "today's schema still serves it".to_owned()),
        SchemaState::Unknown => (true, "no schema recorded, so it is not known to have changed".to_owned()),
        SchemaState::Incompatible { reason } => {
            (false, format!("revision {target} cannot run on today's schema: {reason}"))
        }
    }
}

fn traffic_swap(facts: &Facts) -> RungAssessment {
    let Some(target) = facts.target_revision else {
        return assessment(Rung::TrafficSwap, false, false, no_target(facts), TRAFFIC_SWAP_MS);
    };
    if !facts.target_warm {
        return assessment(Rung::TrafficSwap, false, false, format!("revision {target} is not warm"), TRAFFIC_SWAP_MS);
    }
    let (schema_ok, schema_words) = schema_verdict(target, &facts.target_schema);
    let reason = match (&facts.target_artifact, schema_ok) {
        (_, false) => format!("revision {target} is warm, but {schema_words}"),
        (ArtifactState::Tampered { detail }, true) => {
            format!("revision {target} is warm, but its artifact fails its digest check: {detail}")
        }
        (_, true) => format!("revision {target} is warm; {schema_words}"),
    };
    let safe = schema_ok && !matches!(facts.target_artifact, ArtifactState::Tampered { .. });
    assessment(Rung::TrafficSwap, true, safe, reason, TRAFFIC_SWAP_MS)
}

fn redeploy(facts: &Facts) -> RungAssessment {
    let expected = facts.target_cold_start_ms.unwrap_or(DEFAULT_COLD_START_MS);
    let Some(target) = facts.target_revision else {
        return assessment(Rung::Redeploy, false, false, no_target(facts), expected);
    };
    match &facts.target_artifact {
        ArtifactState::Missing => {
            let reason = format!("revision {target}'s artifact is missing from the store");
            return assessment(Rung::Redeploy, false, false, reason, expected);
        }
        ArtifactState::Tampered { detail } => {
            let reason = format!("revision {target}'s artifact fails its digest check: {detail}");
            return assessment(Rung::Redeploy, false, false, reason, expected);
        }
        ArtifactState::Verified => {}
    }
    let (safe, schema_words) = schema_verdict(target, &facts.target_schema);
    let start = match facts.target_cold_start_ms {
        Some(_) => String::new(),
        None => format!("; no start measured, {} assumed", human_ms(DEFAULT_COLD_START_MS)),
    };
    let reason = if safe {
        format!("revision {target}'s artifact is verified; {schema_words}{start}")
    } else {
        format!("revision {target}'s artifact is verified, but {schema_words}")
    };
    assessment(Rung::Redeploy, true, safe, reason, expected)
}

fn roll_forward(facts: &Facts) -> RungAssessment {
    let reason = match (facts.live_revision, &facts.live_git_commit) {
        (Some(live), Some(commit)) => format!("a hotfix from revision {live}'s commit {commit}"),
        (Some(_), None) => "no git commit recorded: branch from the release tag by hand".to_owned(),
        (None, _) => "nothing is live: release a fixed version".to_owned(),
    };
    assessment(Rung::RollForward, true, true, reason, ROLL_FORWARD_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(key: &str, exists: bool, on: bool) -> GuardFlag {
        GuardFlag { key: key.into(), exists, on }
    }

    /// A bad revision 7 with no guard flags over a warm, compatible, verified revision 3.
    fn facts() -> Facts {
        Facts {
            app: "shop".into(),
            live_revision: Some(7),
            live_analysis: Some(Verdict::Fail),
            guard_flags: vec![],
            target_revision: Some(3),
            target_refusal: None,
            target_warm: true,
            target_artifact: ArtifactState::Verified,
            target_schema: SchemaState::Compatible,
            target_cold_start_ms: Some(1_200),
            live_git_commit: Some("4f2a9c1".into()),
        }
    }

    fn rung(d: &Decision, rung: Rung) -> &RungAssessment {
        d.rungs.iter().find(|r| r.rung == rung).expect("every rung is assessed")
    }

    #[test]
    fn each_rung_is_recommended_when_its_facts_hold() {
        let dropped = "revision 3 needs column users.full_name, dropped by the contract of revision 5";
        // (name, facts, recommended, command, (rung, reason that must appear))
        type Case = (&'static str, Facts, Rung, &'static str, (Rung, &'static str));
        let cases: Vec<Case> = vec![
            (
                "guarded bad release: kill switch",
                Facts { guard_flags: vec![flag("new-checkout", true, true)], ..facts() },
                Rung::KillSwitch,
                "backstop flag off new-checkout --reason \"kill switch\"",
                (Rung::KillSwitch, "flag new-checkout guards revision 7 and is on"),
            ),
            (
                "two guard flags on: both go off",
                Facts {
                    guard_flags: vec![flag("a", true, true), flag("b", true, true), flag("c", true, false)],
                    ..facts()
                },
                Rung::KillSwitch,
                "backstop flag off a --reason \"kill switch\" && backstop flag off b --reason \"kill switch\"",
                (Rung::KillSwitch, "flags a, b guard revision 7 and are on"),
            ),
            (
                "unguarded, previous warm: swap",
                facts(),
                Rung::TrafficSwap,
                "backstop undo shop --to-revision 3",
                (Rung::KillSwitch, "revision 7 is guarded by no flag"),
            ),
            (
                "guard flag already off: not the kill switch",
                Facts { guard_flags: vec![flag("new-checkout", true, false)], ..facts() },
                Rung::TrafficSwap,
                "backstop undo shop --to-revision 3",
                (Rung::KillSwitch, "flag new-checkout guarding revision 7 is already off"),
            ),
            (
                "guard flag deleted: not the kill switch",
                Facts { guard_flags: vec![flag("gone", false, true)], ..facts() },
                Rung::TrafficSwap,
                "backstop undo shop --to-revision 3",
                (Rung::KillSwitch, "flag gone guarding revision 7 does not exist"),
            ),
            (
                "several guard flags, none on",
                Facts { guard_flags: vec![flag("a", true, false), flag("b", false, false)], ..facts() },
                Rung::TrafficSwap,
                "backstop undo shop --to-revision 3",
                (Rung::KillSwitch, "no flag guarding revision 7 is on (a is off, b does not exist)"),
            ),
            (
                "no schema recorded: swap still safe",
                Facts { target_schema: SchemaState::Unknown, ..facts() },
                Rung::TrafficSwap,
                "backstop undo shop --to-revision 3",
                (Rung::TrafficSwap, "no schema recorded, so it is not known to have changed"),
            ),
            (
                "warm but artifact missing: the warm instance still serves",
                Facts { target_artifact: ArtifactState::Missing, ..facts() },
                Rung::TrafficSwap,
                "backstop undo shop --to-revision 3",
                (Rung::Redeploy, "revision 3's artifact is missing from the store"),
            ),
            (
                "not warm: redeploy",
                Facts { target_warm: false, ..facts() },
                Rung::Redeploy,
                "backstop undo shop --to-revision 3",
                (Rung::TrafficSwap, "revision 3 is not warm"),
            ),
            (
                "warm but tampered: redeploy impossible too, roll forward",
                Facts { target_artifact: ArtifactState::Tampered { detail: "sha256 mismatch".into() }, ..facts() },
                Rung::RollForward,
                "backstop hotfix start shop --from-revision 7",
                (Rung::TrafficSwap, "revision 3 is warm, but its artifact fails its digest check: sha256 mismatch"),
            ),
            (
                "schema incompatible: roll forward",
                Facts {
                    target_warm: true,
                    target_schema: SchemaState::Incompatible { reason: dropped.into() },
                    ..facts()
                },
                Rung::RollForward,
                "backstop hotfix start shop --from-revision 7",
                (
                    Rung::TrafficSwap,
                    "revision 3 is warm, but revision 3 cannot run on today's schema: revision 3 needs",
                ),
            ),
            (
                "schema incompatible, not warm: redeploy is unsafe too",
                Facts {
                    target_warm: false,
                    target_schema: SchemaState::Incompatible { reason: dropped.into() },
                    ..facts()
                },
                Rung::RollForward,
                "backstop hotfix start shop --from-revision 7",
                (Rung::Redeploy, "revision 3's artifact is verified, but revision 3 cannot run on today's schema"),
            ),
            (
                "artifact tampered and not warm: roll forward",
                Facts {
                    target_warm: false,
                    target_artifact: ArtifactState::Tampered { detail: "digest sha256:ab… ≠ sha256:cd…".into() },
                    ..facts()
                },
                Rung::RollForward,
                "backstop hotfix start shop --from-revision 7",
                (Rung::Redeploy, "revision 3's artifact fails its digest check: digest sha256:ab…"),
            ),
            (
                "no target at all: roll forward",
                Facts {
                    target_revision: None,
                    target_refusal: Some("no known-good revision before the live revision 7".into()),
                    ..facts()
                },
                Rung::RollForward,
                "backstop hotfix start shop --from-revision 7",
                (Rung::TrafficSwap, "no revision to go back to: no known-good revision before the live revision 7"),
            ),
            (
                "no target and no refusal given",
                Facts { target_revision: None, ..facts() },
                Rung::RollForward,
                "backstop hotfix start shop --from-revision 7",
                (Rung::Redeploy, "no known-good revision before revision 7"),
            ),
            (
                "no git commit: branch by hand",
                Facts { target_revision: None, live_git_commit: None, ..facts() },
                Rung::RollForward,
                "backstop release shop --artifact PATH --version V",
                (Rung::RollForward, "no git commit recorded: branch from the release tag by hand"),
            ),
            (
                "hotfix names the live commit",
                Facts { target_revision: None, ..facts() },
                Rung::RollForward,
                "backstop hotfix start shop --from-revision 7",
                (Rung::RollForward, "a hotfix from revision 7's commit 4f2a9c1"),
            ),
            (
                "nothing live: flags do not matter, release a fix",
                Facts {
                    live_revision: None,
                    guard_flags: vec![flag("x", true, true)],
                    target_revision: None,
                    ..facts()
                },
                Rung::RollForward,
                "backstop release shop --artifact PATH --version V",
                (Rung::KillSwitch, "nothing is live"),
            ),
        ];
        for (name, f, recommended, command, (which, reason)) in cases {
            let d = decide(&f);
            assert_eq!(d.recommended, recommended, "{name}: {:#?}", d.rungs);
            assert_eq!(d.command, command, "{name}");
            let r = rung(&d, which);
            assert!(r.reason.contains(reason), "{name}: {:?} lacks {reason:?}", r.reason);
            // The recommendation is the first rung both available and safe.
            let first = d.rungs.iter().find(|r| r.available && r.safe).map(|r| r.rung);
            assert_eq!(first, Some(recommended), "{name}");
            let order: Vec<Rung> = d.rungs.iter().map(|r| r.rung).collect();
            assert_eq!(order, Rung::ALL, "{name}");
        }
    }

    #[test]
    fn availability_and_safety_table() {
        let tampered = ArtifactState::Tampered { detail: "x".into() };
        let broken = SchemaState::Incompatible { reason: "y".into() };
        // (name, facts, rung, available, safe)
        let cases: Vec<(&str, Facts, Rung, bool, bool)> = vec![
            ("swap: warm and compatible", facts(), Rung::TrafficSwap, true, true),
            (
                "swap: warm, incompatible",
                Facts { target_schema: broken.clone(), ..facts() },
                Rung::TrafficSwap,
                true,
                false,
            ),
            (
                "swap: warm, tampered",
                Facts { target_artifact: tampered.clone(), ..facts() },
                Rung::TrafficSwap,
                true,
                false,
            ),
            ("swap: cold", Facts { target_warm: false, ..facts() }, Rung::TrafficSwap, false, false),
            ("redeploy: cold, verified", Facts { target_warm: false, ..facts() }, Rung::Redeploy, true, true),
            (
                "redeploy: missing",
                Facts { target_artifact: ArtifactState::Missing, ..facts() },
                Rung::Redeploy,
                false,
                false,
            ),
            ("redeploy: tampered", Facts { target_artifact: tampered, ..facts() }, Rung::Redeploy, false, false),
            ("redeploy: incompatible", Facts { target_schema: broken, ..facts() }, Rung::Redeploy, true, false),
            (
                "redeploy: unknown schema",
                Facts { target_schema: SchemaState::Unknown, ..facts() },
                Rung::Redeploy,
                true,
                true,
            ),
            ("kill switch: no flags", facts(), Rung::KillSwitch, false, false),
            (
                "roll forward: always",
                Facts { target_revision: None, live_revision: None, ..facts() },
                Rung::RollForward,
                true,
                true,
            ),
        ];
        for (name, f, which, available, safe) in cases {
            let d = decide(&f);
            let r = rung(&d, which);
            assert_eq!((r.available, r.safe), (available, safe), "{name}: {}", r.reason);
        }
    }

    #[test]
    fn expected_times_follow_the_rung() {
        let d = decide(&facts());
        let times: Vec<u64> = d.rungs.iter().map(|r| r.expected_ms).collect();
        assert_eq!(times, vec![50, 100, 1_200, 1_800_000]);
        let d = decide(&Facts { target_cold_start_ms: None, ..facts() });
        assert_eq!(rung(&d, Rung::Redeploy).expected_ms, 5_000, "an unmeasured start assumes five seconds");
        assert!(rung(&d, Rung::Redeploy).reason.contains("no start measured, 5 s assumed"));
    }

    #[test]
    fn human_rendering() {
        let f = Facts { guard_flags: vec![flag("new-checkout", true, true)], target_warm: false, ..facts() };
        let d = decide(&f);
        let want = "\
shop: live revision 7 (analysis: fail)
✓ kill-switch: flag new-checkout guards revision 7 and is on (about 50 ms)
✗ traffic-swap: revision 3 is not warm
✓ redeploy: revision 3's artifact is verified; today's schema still serves it (about 1.2 s)
✓ roll-forward: a hotfix from revision 7's commit 4f2a9c1 (about 30 min)
recommended: kill-switch
run: backstop flag off new-checkout --reason \"kill switch\"
";
        assert_eq!(render_human(&d, &f), want);
    }

    #[test]
    fn human_durations() {
        let cases = [(0, "0 ms"), (50, "50 ms"), (999, "999 ms"), (1_000, "1 s"), (1_250, "1.2 s"), (5_000, "5 s")];
        for (ms, want) in cases.into_iter().chain([(60_000, "1 min"), (1_800_000, "30 min"), (61_000, "2 min")]) {
            assert_eq!(human_ms(ms), want, "{ms}");
        }
    }

    #[test]
    fn names_and_facts_serialise() {
        for (rung, name) in Rung::ALL.into_iter().zip(["kill-switch", "traffic-swap", "redeploy", "roll-forward"]) {
            assert_eq!(serde_json::to_value(rung).unwrap(), name);
            assert_eq!(rung.as_str(), name);
        }
        let f = Facts {
            target_artifact: ArtifactState::Tampered { detail: "d".into() },
            target_schema: SchemaState::Incompatible { reason: "r".into() },
            ..facts()
        };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["target_artifact"], serde_json::json!({"state": "tampered", "detail": "d"}));
        assert_eq!(json["target_schema"], serde_json::json!({"state": "incompatible", "reason": "r"}));
        assert_eq!(json["live_analysis"], "fail");
        assert_eq!(serde_json::from_value::<Facts>(json).unwrap(), f);
        let d = decide(&f);
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["recommended"], "roll-forward");
        assert_eq!(serde_json::from_value::<Decision>(json).unwrap(), d);
    }
}
