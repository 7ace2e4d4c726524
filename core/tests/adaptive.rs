//! Adaptive learners under any input: an `[adaptive]` table of any shape is read or refused
//! with the field named, never a panic; learners told any values (NaN, infinities, failures,
//! huge or tiny numbers) over any bounds ask points inside the bounds, never one twice, and as
//! many as asked while the space allows.

use proptest::prelude::*;
use xyz_core::adaptive::{Adaptive, Learner1D, Learner2D, Loss};

/// Any TOML value, a few levels deep.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        "[a-z_]{0,8}".prop_map(toml::Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// A value the function might give: ordinary, extreme, not finite, or a failure.
fn told() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        4 => (-10.0f64..10.0).prop_map(Some),
        1 => Just(Some(f64::NAN)),
        1 => Just(Some(f64::INFINITY)),
        1 => Just(Some(-1e300)),
        1 => Just(Some(1e-300)),
        1 => Just(None),
    ]
}

fn loss_1d() -> impl Strategy<Value = Loss> {
    prop_oneof![
        Just(Loss::Default),
        Just(Loss::Uniform),
        Just(Loss::Curvature),
        Just(Loss::AbsMinLog),
    ]
}

fn bounds() -> impl Strategy<Value = [f64; 2]> {
    prop_oneof![
        (-1e3f64..1e3, 1e-9f64..1e3).prop_map(|(lo, w)| [lo, lo + w]),
        Just([1.0, 1.0 + 8.0 * f64::EPSILON]),
        Just([-1e300, 1e300]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_table_is_read_or_refused_naming_a_field(
        entries in prop::collection::btree_map(
            prop_oneof![
                Just("n".to_string()), Just("loss_goal".to_string()), Just("loss".to_string()),
                Just("output".to_string()), Just("rounds".to_string()), Just("args".to_string()),
                "[a-z]{1,3}",
            ],
            toml_value(),
            0..6,
        )
    ) {
        let table: toml::Table = entries.into_iter().collect();
        match Adaptive::from_toml(&table) {
            Ok(a) => {
                prop_assert!((1..=2).contains(&a.args.len()));
                prop_assert!(a.n.is_some() || a.loss_goal.is_some());
                prop_assert!(a.args.iter().all(|(_, [lo, hi])| lo < hi));
                prop_assert_eq!(Adaptive::from_toml(&a.to_toml()).unwrap(), a);
            }
            Err((field, message)) => {
                prop_assert!(field.starts_with("adaptive"), "{}", field);
                prop_assert!(!message.is_empty());
            }
        }
    }

    #[test]
    fn a_1d_learner_asks_new_points_within_its_bounds(
        b in bounds(),
        loss in loss_1d(),
        rounds in prop::collection::vec((1usize..9, prop::collection::vec(told(), 9)), 1..12),
    ) {
        let mut l = Learner1D::new(b, loss);
        let mut seen: Vec<f64> = Vec::new();
        for (k, values) in rounds {
            let points = l.ask(k);
            prop_assert!(points.len() <= k);
            for (x, y) in points.iter().zip(values) {
                prop_assert!(x.is_finite() && b[0] <= *x && *x <= b[1], "{} outside {:?}", x, b);
                prop_assert!(!seen.contains(x), "{} asked twice", x);
                seen.push(*x);
                l.tell(*x, y);
            }
            let loss = l.loss();
            prop_assert!(!loss.is_nan() || l.len() < 2);
        }
    }

    #[test]
    fn a_2d_learner_asks_new_points_within_its_bounds(
        bx in bounds(),
        by in bounds(),
        uniform in any::<bool>(),
        rounds in prop::collection::vec((1usize..20, prop::collection::vec(told(), 20)), 1..8),
    ) {
        let loss = if uniform { Loss::Uniform } else { Loss::Default };
        let mut l = Learner2D::new([bx, by], loss);
        let mut seen: Vec<[f64; 2]> = Vec::new();
        for (k, values) in rounds {
            let points = l.ask(k);
            prop_assert!(points.len() <= k);
            for (p, v) in points.iter().zip(values) {
                prop_assert!(bx[0] <= p[0] && p[0] <= bx[1] && by[0] <= p[1] && p[1] <= by[1]);
                prop_assert!(!seen.contains(p), "{:?} asked twice", p);
                seen.push(*p);
                l.tell(*p, v);
            }
            l.loss();
        }
        prop_assert_eq!(l.len(), seen.len());
    }
}
