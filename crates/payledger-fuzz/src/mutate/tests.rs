use super::*;
use crate::{Settings, run_with};
use proptest::test_runner::TestCaseError;

fn settings(cases: u32) -> Settings {
    Settings { cases, seed: 7 }
}

fn seeds() -> Corpus {
    corpus(["{\"a\":1}", "t=1,v1=00"])
}

#[test]
fn a_run_counts_its_cases_and_repeats_with_its_seed() {
    let collect = |seed| {
        let seen = std::cell::RefCell::new(Vec::new());
        let settings = Settings { cases: 50, seed };
        let report = run_with(settings, "t", inputs(seeds(), seeds()), |input| {
            seen.borrow_mut().push(input);
            Ok(())
        });
        assert_eq!(report.cases, 50);
        seen.into_inner()
    };
    assert_eq!(collect(1), collect(1));
    assert_ne!(collect(1), collect(2));
}

#[test]
#[should_panic(expected = "PAYLEDGER_FUZZ_SEED=7")]
fn a_panicking_property_fails_the_run_and_names_the_seed() {
    run_with(settings(100), "t", mutated(seeds(), seeds()), |input| {
        assert!(input.0.len() < 4, "too long");
        Ok::<(), TestCaseError>(())
    });
}

#[test]
fn inputs_print_as_byte_strings() {
    assert_eq!(
        format!("{:?}", Input(b"a\"\x00\xff".to_vec())),
        "b\"a\\\"\\x00\\xff\""
    );
}
