//! Sticky percentage rollouts, checked over 10,000 synthetic users.

use std::collections::{BTreeMap, BTreeSet};

use backstop_flags::{CompiledFlag, Context, Flag, Rule, Serve, Value, compile, evaluate};

const USERS: usize = 10_000;

fn users() -> impl Iterator<Item = String> {
    (0..USERS).map(|i| format!("user-{i}"))
}

/// A string flag whose only rule is a rollout over `slices`.
fn rollout_flag(key: &str, slices: &[(&str, u32)]) -> CompiledFlag {
    let variants = slices.iter().map(|(v, _)| ((*v).to_owned(), Value::from(*v))).collect();
    let first = slices[0].0.to_owned();
    compile(Flag {
        key: key.to_owned(),
        description: String::new(),
        enabled: true,
        variants,
        default_variant: first.clone(),
        off_variant: first,
        rules: vec![Rule {
            name: None,
            conditions: vec![],
            serve: Serve::Rollout(slices.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect()),
        }],
        version: 1,
    })
    .unwrap()
}

fn variant_of(flag: &CompiledFlag, user: &str) -> String {
    evaluate(flag, &Context::new().with_targeting_key(user)).unwrap().variant.to_owned()
}

fn users_on(flag: &CompiledFlag) -> BTreeSet<String> {
    users().filter(|u| variant_of(flag, u) == "on").collect()
}

#[test]
fn same_user_same_variant() {
    let flag = rollout_flag("new-checkout", &[("on", 50), ("off", 50)]);
    // A separately compiled copy with another version and description: stickiness
    // depends on the flag key and the targeting key only.
    let mut source = flag.flag().clone();
    source.version = 99;
    source.description = "edited".into();
    let recompiled = compile(source).unwrap();
    for user in users().take(1_000) {
        let first = variant_of(&flag, &user);
        assert_eq!(variant_of(&flag, &user), first, "{user}");
        assert_eq!(variant_of(&recompiled, &user), first, "{user}");
    }
}

#[test]
fn growing_a_rollout_only_adds_users() {
    let steps = [1, 10, 30, 50, 99, 100];
    let mut previous = BTreeSet::new();
    for percent in steps {
        let flag = rollout_flag("new-checkout", &[("on", percent), ("off", 100 - percent)]);
        let on = users_on(&flag);
        assert!(previous.is_subset(&on), "going to {percent}% dropped {} users", previous.difference(&on).count());
        previous = on;
    }
    assert_eq!(previous.len(), USERS);
}

#[test]
fn distribution_matches_weights() {
    let slices = [("red", 10), ("green", 30), ("blue", 60)];
    let flag = rollout_flag("button-color", &slices);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for user in users() {
        *counts.entry(variant_of(&flag, &user)).or_default() += 1;
    }
    for (variant, weight) in slices {
        let expected = USERS * weight as usize / 100;
        let got = counts.get(variant).copied().unwrap_or(0);
        // 2 percentage points: over 4 standard deviations for every weight here.
        assert!(got.abs_diff(expected) <= USERS / 50, "{variant}: {got} users, expected about {expected}");
    }
}

#[test]
fn different_flags_bucket_independently() {
    let a = users_on(&rollout_flag("new-checkout", &[("on", 50), ("off", 50)]));
    let b = users_on(&rollout_flag("search-v2", &[("on", 50), ("off", 50)]));
    let both = a.intersection(&b).count();
    // Independent halves overlap in about a quarter of all users.
    let expected = USERS / 4;
    assert!(both.abs_diff(expected) <= USERS / 50, "{both} users in both, expected about {expected}");
}
