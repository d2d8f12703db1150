//! Success and failure conditions: Argo Rollouts' expr-lang expressions over a measurement's
//! `result`, evaluated with Argo's rules (`utils/evaluate/evaluate.go`).
//!
//! Pure: expressions and a measured value in, a measurement phase out. `result` is a float
//! (Prometheus scalar), a list of floats (vector or matrix), a JSON value (web) or nothing;
//! NaN stays NaN, so comparisons with it are false and only `isNaN(result)` catches it.

use std::fmt::Write;

use expr::{Context, Environment, Program, Value};

use crate::model::AnalysisPhase;

/// What a provider measured.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// Nothing (a provider that returned no data).
    Nil,
    /// One number (a Prometheus scalar or a one-sample vector keeps the list form).
    Scalar(f64),
    /// Numbers (a Prometheus vector or matrix, flattened).
    Vector(Vec<f64>),
    /// A JSON value (a web metric's JSONPath match).
    Json(serde_json::Value),
    /// Text (a web metric whose body is not JSON).
    Text(String),
}

impl MetricValue {
    /// The value as Argo writes it in `measurement.value`: `10`, `[10,11]`, `NaN`, JSON text.
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Self::Nil => String::new(),
            Self::Scalar(value) => go_float(*value),
            Self::Vector(values) => {
                let mut out = String::from("[");
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}", go_float(*value));
                }
                out.push(']');
                out
            }
            Self::Json(value) => value.to_string(),
            Self::Text(text) => text.clone(),
        }
    }

    /// Whether the value is NaN or holds one.
    fn has_nan(&self) -> bool {
        match self {
            Self::Scalar(value) => value.is_nan(),
            Self::Vector(values) => values.iter().any(|value| value.is_nan()),
            Self::Nil | Self::Json(_) | Self::Text(_) => false,
        }
    }

    fn is_nil_or_empty(&self) -> bool {
        match self {
            Self::Nil => true,
            Self::Vector(values) => values.is_empty(),
            Self::Json(value) => value.is_null() || value.as_array().is_some_and(Vec::is_empty),
            Self::Text(text) => text.is_empty(),
            Self::Scalar(_) => false,
        }
    }

    fn to_expr(&self) -> Value {
        match self {
            Self::Nil => Value::Nil,
            Self::Scalar(value) => Value::Float(*value),
            Self::Vector(values) => {
                Value::Array(values.iter().map(|value| Value::Float(*value)).collect())
            }
            Self::Json(value) => json_to_expr(value),
            Self::Text(text) => Value::String(text.clone()),
        }
    }
}

/// Formats like Go's `strconv.FormatFloat(v, 'f', -1, 64)` for the values Argo prints.
fn go_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

fn json_to_expr(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) => number.as_i64().map_or_else(
            || Value::Float(number.as_f64().unwrap_or(f64::NAN)),
            Value::Integer,
        ),
        serde_json::Value::String(text) => Value::String(text.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(json_to_expr).collect()),
        serde_json::Value::Object(fields) => Value::Map(
            fields
                .iter()
                .map(|(key, value)| (key.clone(), json_to_expr(value)))
                .collect(),
        ),
    }
}

/// A compiled condition, with its text for messages.
#[derive(Clone, Debug)]
pub struct Condition {
    text: String,
    program: Program,
}

impl Condition {
    /// Compiles `text`, or says why it does not compile (a validation error at lint and
    /// sync time, not a runtime surprise).
    pub fn compile(text: &str) -> Result<Self, String> {
        guarded(text, || expr::compile(text))?
            .map(|program| Self {
                text: text.to_owned(),
                program,
            })
            .map_err(|error| error.to_string().lines().collect::<Vec<_>>().join(" "))
    }

    /// Whether the condition holds for `result`.
    fn holds(&self, result: &MetricValue) -> Result<bool, String> {
        let mut context = Context::default();
        context.insert("result".to_owned(), result.to_expr());
        match guarded(&self.text, || environment().run(&self.program, &context))? {
            Ok(Value::Bool(holds)) => Ok(holds),
            Ok(other) => Err(format!("expected bool, but got {}", type_name(&other))),
            Err(error) => Err(error.to_string()),
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Integer(_) => "int",
        Value::Float(_) => "float64",
        Value::Nil => "nil",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Map(_) | Value::KeyedMap(_) => "map",
        _ => "value",
    }
}

/// Runs expr-lang on `text`, turning a panic of its parser or evaluator (some malformed
/// expressions reach an `unreachable!` in it) into an error about `text`.
fn guarded<T>(text: &str, run: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .map_err(|_| format!("{text:?} is not an expression tidegate can read"))
}

/// The functions Argo adds to expr: `asInt`, `asFloat`, `isNaN`, `isInf`, `isNil`, `default`.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_function("asInt", |call| match call.args.first() {
        Some(Value::Integer(value)) => Ok(Value::Integer(*value)),
        #[allow(clippy::cast_possible_truncation)] // Go's int(float64) truncates as well.
        Some(Value::Float(value)) if value.is_finite() => Ok(Value::Integer(*value as i64)),
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .map(Value::Integer)
            .map_err(|_| expr::Error::ExprError(format!("asInt: {text:?} is not an integer"))),
        other => Err(expr::Error::ExprError(format!(
            "asInt: cannot convert {other:?}"
        ))),
    });
    env.add_function("asFloat", |call| match call.args.first() {
        #[allow(clippy::cast_precision_loss)] // as Go's float64(int)
        Some(Value::Integer(value)) => Ok(Value::Float(*value as f64)),
        Some(Value::Float(value)) => Ok(Value::Float(*value)),
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .map(Value::Float)
            .map_err(|_| expr::Error::ExprError(format!("asFloat: {text:?} is not a number"))),
        other => Err(expr::Error::ExprError(format!(
            "asFloat: cannot convert {other:?}"
        ))),
    });
    env.add_function("isNaN", |call| match call.args.first() {
        Some(Value::Float(value)) => Ok(Value::Bool(value.is_nan())),
        Some(Value::Integer(_)) => Ok(Value::Bool(false)),
        other => Err(expr::Error::ExprError(format!(
            "isNaN: expected a number, got {other:?}"
        ))),
    });
    env.add_function("isInf", |call| match call.args.first() {
        Some(Value::Float(value)) => Ok(Value::Bool(value.is_infinite())),
        Some(Value::Integer(_)) => Ok(Value::Bool(false)),
        other => Err(expr::Error::ExprError(format!(
            "isInf: expected a number, got {other:?}"
        ))),
    });
    env.add_function("isNil", |call| {
        Ok(Value::Bool(call.args.first().is_none_or(Value::is_nil)))
    });
    env.add_function("default", |call| {
        let mut args = call.args.into_iter();
        let value = args.next().unwrap_or(Value::Nil);
        let fallback = args.next().unwrap_or(Value::Nil);
        Ok(if value.is_nil() { fallback } else { value })
    });
    env
}

/// The time an expression such as `now() - duration("5m")` gives (a range query's bounds),
/// as Unix seconds.
pub fn evaluate_time(text: &str) -> Result<f64, String> {
    let value = guarded(text, || environment().eval(text, &Context::default()))?
        .map_err(|error| format!("{text:?}: {error}"))?;
    let time = value
        .as_datetime()
        .ok_or_else(|| format!("{text:?} does not give a time"))?;
    #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit a float exactly for ages
    Ok(time.timestamp() as f64 + f64::from(time.timestamp_subsec_millis()) / 1000.0)
}

/// A measurement's phase from its value, by Argo's rules — no condition → Successful; only a
/// success condition → Failed unless it holds; only a failure condition → Successful unless
/// it holds; both → Failed if failure holds (it wins), Successful if success holds, else
/// Inconclusive; an evaluation error is Error, with Argo's message — and then tidegate's
/// stricter rule: a value that says nothing never passes. A metric with no condition, and a
/// result that is NaN (or holds a NaN) or empty, is Inconclusive unless a condition handles
/// that case explicitly (`isNaN(...)` for NaN; `len(...)`, `isNil(...)` or `default(...)`
/// for an empty result), whatever Argo's rules would say.
#[must_use]
pub fn evaluate(
    success: Option<&Condition>,
    failure: Option<&Condition>,
    result: &MetricValue,
) -> (AnalysisPhase, String) {
    if let Some(why) = unjudged(success, failure, result) {
        return (AnalysisPhase::Inconclusive, why);
    }
    argo_verdict(success, failure, result)
}

/// Why a result says nothing the conditions judge, if it does not.
fn unjudged(
    success: Option<&Condition>,
    failure: Option<&Condition>,
    result: &MetricValue,
) -> Option<String> {
    let conditions: Vec<&Condition> = success.into_iter().chain(failure).collect();
    if conditions.is_empty() {
        return Some(
            "the metric has no successCondition or failureCondition: nothing judges its value"
                .to_owned(),
        );
    }
    let handles = |functions: &[&str]| {
        conditions
            .iter()
            .any(|condition| functions.iter().any(|name| calls(&condition.text, name)))
    };
    if result.has_nan() && !handles(&["isNaN"]) {
        return Some(format!(
            "the result {} holds NaN and no condition handles it (isNaN(result))",
            result.display()
        ));
    }
    if result.is_nil_or_empty() && !handles(&["len", "isNil", "default"]) {
        return Some(
            "the result is empty (no data) and no condition handles it (len(result) == 0)"
                .to_owned(),
        );
    }
    None
}

/// Whether expression `text` calls function `name`.
fn calls(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let starts_word = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        starts_word && text[at + name.len()..].trim_start().starts_with('(')
    })
}

/// Argo's verdict (`utils/evaluate/evaluate.go`).
fn argo_verdict(
    success: Option<&Condition>,
    failure: Option<&Condition>,
    result: &MetricValue,
) -> (AnalysisPhase, String) {
    let check = |condition: Option<&Condition>, which: &str| -> Result<Option<bool>, String> {
        let Some(condition) = condition else {
            return Ok(None);
        };
        condition.holds(result).map(Some).map_err(|error| {
            let mut message = format!("could not evaluate {which} \"{}\": {error}", condition.text);
            if result.is_nil_or_empty() {
                message.push_str(
                    ": metric result is nil or empty: no data returned from the metric provider",
                );
            }
            message
        })
    };
    let outcome = check(success, "successCondition")
        .and_then(|succeeded| Ok((succeeded, check(failure, "failureCondition")?)));
    match outcome {
        Err(message) => (AnalysisPhase::Error, message),
        Ok((None, None)) => (AnalysisPhase::Successful, String::new()),
        Ok((succeeded, failed)) => {
            let succeeded = succeeded.unwrap_or_else(|| !failed.unwrap_or(false));
            let failed = failed.unwrap_or(!succeeded);
            let phase = if failed {
                AnalysisPhase::Failed
            } else if succeeded {
                AnalysisPhase::Successful
            } else {
                AnalysisPhase::Inconclusive
            };
            (phase, String::new())
        }
    }
}

/// What `tidegate lint` warns about a metric's conditions: where tidegate's verdict on a NaN
/// or empty result (Inconclusive) differs from Argo's, because nothing handles that case.
/// `value_provider` is false for providers that judge themselves (a Job).
#[must_use]
pub fn lint_warnings(
    success: &str,
    failure: &str,
    value_provider: bool,
) -> Vec<(&'static str, String)> {
    if !value_provider {
        return Vec::new();
    }
    let (success, failure) = (success.trim(), failure.trim());
    if success.is_empty() && failure.is_empty() {
        return vec![(
            "successCondition",
            "no successCondition or failureCondition: every measurement is Inconclusive in \
             tidegate (Argo counts it Successful); add a condition"
                .to_owned(),
        )];
    }
    if !success.is_empty() {
        return Vec::new();
    }
    let handles = |functions: &[&str]| functions.iter().any(|name| calls(failure, name));
    let mut warnings = Vec::new();
    if !handles(&["isNaN"]) {
        warnings.push((
            "failureCondition",
            "only a failureCondition, and it does not handle NaN: a NaN result passes in Argo \
             and is Inconclusive in tidegate; write `isNaN(result) || ...`"
                .to_owned(),
        ));
    }
    if !handles(&["len", "isNil", "default"]) {
        warnings.push((
            "failureCondition",
            "only a failureCondition, and it does not handle an empty result: no data can pass \
             in Argo and is Inconclusive in tidegate; write `len(result) == 0 || ...`"
                .to_owned(),
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use AnalysisPhase::{Error, Failed, Inconclusive, Successful};

    fn phase(success: &str, failure: &str, result: &MetricValue) -> AnalysisPhase {
        let compile = |text: &str| (!text.is_empty()).then(|| Condition::compile(text).unwrap());
        evaluate(compile(success).as_ref(), compile(failure).as_ref(), result).0
    }

    #[test]
    fn argo_condition_table() {
        let good = MetricValue::Vector(vec![0.99]);
        let bad = MetricValue::Vector(vec![0.5]);
        let cases = [
            ("result[0] >= 0.95", "", &good, Successful),
            ("result[0] >= 0.95", "", &bad, Failed),
            ("", "result[0] < 0.9", &good, Successful),
            ("", "result[0] < 0.9", &bad, Failed),
            ("result[0] >= 0.95", "result[0] < 0.9", &bad, Failed),
            (
                "result[0] >= 0.95",
                "result[0] < 0.9",
                &MetricValue::Vector(vec![0.92]),
                Inconclusive,
            ),
            (
                "result[0] > 0.1",
                "result[0] > 0.2",
                &MetricValue::Vector(vec![0.5]),
                Failed,
            ),
            (
                "all(result, {# > 0.9})",
                "",
                &MetricValue::Vector(vec![0.95, 0.99]),
                Successful,
            ),
            (
                "all(result, {# > 0.9})",
                "",
                &MetricValue::Vector(vec![0.95, 0.5]),
                Failed,
            ),
        ];
        for (success, failure, result, expected) in cases {
            assert_eq!(
                phase(success, failure, result),
                expected,
                "{success:?} / {failure:?} on {result:?}"
            );
        }
    }

    #[test]
    fn nan_never_passes_unless_a_condition_handles_it() {
        let nan = MetricValue::Scalar(f64::NAN);
        // Argo: Failed, Inconclusive, and — the trap — Successful for a failure-only
        // condition. tidegate: Inconclusive, all three.
        assert_eq!(phase("result >= 0.9", "", &nan), Inconclusive);
        assert_eq!(phase("result >= 0.9", "result < 0.9", &nan), Inconclusive);
        assert_eq!(phase("", "result < 0.9", &nan), Inconclusive);
        let vector = MetricValue::Vector(vec![0.99, f64::NAN]);
        assert_eq!(phase("", "any(result, {# < 0.9})", &vector), Inconclusive);
        // Handled explicitly: Argo's rules decide.
        assert_eq!(phase("", "isNaN(result) || result < 0.9", &nan), Failed);
        assert_eq!(phase("!isNaN(result) && result >= 0.9", "", &nan), Failed);
        assert_eq!(
            phase("isNaN(result) || result >= 0.9", "", &nan),
            Successful
        );
        let (_, why) = evaluate(
            None,
            Some(&Condition::compile("result < 0.9").unwrap()),
            &nan,
        );
        assert!(why.contains("holds NaN"), "{why}");
    }

    #[test]
    fn a_metric_without_conditions_judges_nothing() {
        let (outcome, why) = evaluate(None, None, &MetricValue::Vector(vec![0.99]));
        assert_eq!(outcome, Inconclusive);
        assert!(
            why.contains("no successCondition or failureCondition"),
            "{why}"
        );
    }

    #[test]
    fn functions_are_told_from_names_that_contain_them() {
        assert!(calls("isNaN(result)", "isNaN"));
        assert!(calls("a || isNaN (result)", "isNaN"));
        assert!(!calls("notisNaN(result)", "isNaN"));
        assert!(!calls("result.isNaN", "isNaN"));
        assert!(calls("len(result) == 0", "len"));
        assert!(!calls("result.length > 0", "len"));
    }

    #[test]
    fn lint_warns_where_tidegate_and_argo_disagree() {
        let fields = |success: &str, failure: &str| -> Vec<&str> {
            lint_warnings(success, failure, true)
                .into_iter()
                .map(|(field, _)| field)
                .collect()
        };
        assert_eq!(fields("", ""), ["successCondition"]);
        assert_eq!(
            fields("", "result[0] > 0.1"),
            ["failureCondition", "failureCondition"]
        );
        assert_eq!(
            fields(
                "",
                "len(result) == 0 || isNaN(result[0]) || result[0] > 0.1"
            ),
            Vec::<&str>::new()
        );
        assert_eq!(fields("result[0] < 0.1", ""), Vec::<&str>::new());
        assert!(
            lint_warnings("", "", false).is_empty(),
            "a Job judges itself"
        );
    }

    #[test]
    fn empty_results_are_inconclusive_unless_the_expression_says_so() {
        let empty = MetricValue::Vector(Vec::new());
        // Argo: Error (`result[0]` of nothing), or Successful (`all` of nothing).
        assert_eq!(phase("result[0] >= 0.95", "", &empty), Inconclusive);
        assert_eq!(phase("all(result, {# < 0.01})", "", &empty), Inconclusive);
        assert_eq!(
            phase("result[0] >= 0.95", "", &MetricValue::Nil),
            Inconclusive
        );
        let (_, why) = evaluate(
            Some(&Condition::compile("result[0] >= 0.95").unwrap()),
            None,
            &empty,
        );
        assert!(why.contains("empty"), "{why}");
        assert_eq!(
            phase("len(result) == 0 || result[0] < 0.01", "", &empty),
            Successful
        );
        let (outcome, message) = evaluate(
            Some(&Condition::compile("isNil(result) == false && result[0] >= 0.95").unwrap()),
            None,
            &MetricValue::Vector(Vec::new()),
        );
        assert_eq!(outcome, Error, "handled, but still indexing: Argo's error");
        assert!(
            message.ends_with(
                ": metric result is nil or empty: no data returned from the metric provider"
            ),
            "{message}"
        );
    }

    #[test]
    fn json_null_and_empty_arrays_are_empty_results() {
        for empty in [json!(null), json!([])] {
            assert_eq!(
                phase("result.rate > 0.95", "", &MetricValue::Json(empty.clone())),
                Inconclusive,
                "{empty}"
            );
        }
        assert_eq!(
            phase("len(result) == 1", "", &MetricValue::Json(json!([0.97]))),
            Successful
        );
    }

    #[test]
    fn as_int_truncates_finite_floats_and_refuses_the_rest() {
        assert_eq!(
            phase("asInt(result) == 2", "", &MetricValue::Scalar(2.7)),
            Successful
        );
        for odd in [f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(
                phase("asInt(result) >= 0", "", &MetricValue::Scalar(odd)),
                Error,
                "{odd}"
            );
        }
    }

    #[test]
    fn argo_functions_work() {
        let text = MetricValue::Json(json!({"rate": "0.97", "count": 12, "missing": null}));
        assert_eq!(phase("asFloat(result.rate) > 0.95", "", &text), Successful);
        assert_eq!(phase("asInt(result.count) == 12", "", &text), Successful);
        assert_eq!(
            phase("default(result.missing, 5) == 5", "", &text),
            Successful
        );
        assert_eq!(phase("isNil(result.missing)", "", &text), Successful);
        assert_eq!(
            phase("isInf(result)", "", &MetricValue::Scalar(f64::INFINITY)),
            Successful
        );
        assert_eq!(
            phase("result == 'ok'", "", &MetricValue::Text("ok".into())),
            Successful
        );
    }

    #[test]
    fn non_boolean_results_and_bad_syntax_are_errors() {
        let (outcome, message) = evaluate(
            Some(&Condition::compile("result[0] + 1").unwrap()),
            None,
            &MetricValue::Vector(vec![1.0]),
        );
        assert_eq!(outcome, Error);
        assert!(
            message.ends_with("expected bool, but got float64"),
            "names the type it got: {message}"
        );
        for (text, got) in [
            ("'a'", "string"),
            ("1", "int"),
            ("nil", "nil"),
            ("[1]", "array"),
            ("{'a': 1}", "map"),
        ] {
            let (_, message) = evaluate(
                Some(&Condition::compile(text).unwrap()),
                None,
                &MetricValue::Scalar(1.0),
            );
            assert!(
                message.ends_with(&format!("but got {got}")),
                "{text}: {message}"
            );
        }
        assert!(Condition::compile("result[0] >=").is_err());
        assert!(Condition::compile("result >= 0.9 &&& true").is_err());
    }

    #[test]
    fn range_bounds_are_times() {
        let now = jiff::Timestamp::now().as_second();
        #[allow(clippy::cast_possible_truncation)]
        let start = evaluate_time("now() - duration('5m')").unwrap() as i64;
        assert!((start - (now - 300)).abs() <= 2, "{start} vs {now}");
        assert!(evaluate_time("1 + 1").is_err());
        assert!(evaluate_time("now(").is_err());
        // Milliseconds count, and add to the seconds.
        let exact = evaluate_time("date('2026-12-02T00:00:00.250Z')").unwrap();
        assert!((exact - 1_796_169_600.25).abs() < 1e-6, "{exact}");
    }

    #[test]
    fn values_display_as_argo_writes_them() {
        assert_eq!(MetricValue::Scalar(10.0).display(), "10");
        assert_eq!(MetricValue::Scalar(f64::NAN).display(), "NaN");
        assert_eq!(MetricValue::Scalar(f64::INFINITY).display(), "+Inf");
        assert_eq!(MetricValue::Vector(vec![10.0, 11.5]).display(), "[10,11.5]");
        assert_eq!(MetricValue::Json(json!({"a": 1})).display(), r#"{"a":1}"#);
    }

    mod never_panics {
        use proptest::prelude::*;

        use super::*;
        use crate::arbitrary;

        fn metric_value() -> impl Strategy<Value = MetricValue> {
            prop_oneof![
                Just(MetricValue::Nil),
                any::<f64>().prop_map(MetricValue::Scalar),
                proptest::collection::vec(any::<f64>(), 0..4).prop_map(MetricValue::Vector),
                arbitrary::value().prop_map(MetricValue::Json),
                "\\PC{0,8}".prop_map(MetricValue::Text),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn compiling_and_evaluating_arbitrary_conditions(
                success in arbitrary::text(),
                failure in arbitrary::text(),
                result in metric_value(),
            ) {
                let success = Condition::compile(&success).ok();
                let failure = Condition::compile(&failure).ok();
                let _ = evaluate(success.as_ref(), failure.as_ref(), &result);
            }

            #[test]
            fn evaluating_real_conditions_on_arbitrary_results(result in metric_value()) {
                for text in ["result[0] < 0.05", "all(result, {# > 0.9})", "asFloat(result.rate) > 1",
                             "len(result) == 0 || isNaN(result[0])", "default(result.x, 1) == 1",
                             "asInt(result) > 2", "isInf(result)"] {
                    let condition = Condition::compile(text).unwrap();
                    let _ = evaluate(Some(&condition), None, &result);
                }
            }

            #[test]
            fn range_bounds_of_arbitrary_text(text in arbitrary::text()) {
                let _ = evaluate_time(&text);
            }
        }

        /// An input on which expr-lang's parser panics (found by the property test above).
        #[test]
        fn a_map_literal_expr_lang_cannot_parse_is_an_error() {
            assert!(evaluate_time("{kind: Rollout}").is_err());
            assert!(Condition::compile("{kind: Rollout}").is_err());
        }
    }
}
