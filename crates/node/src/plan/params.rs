//! Reading a spec's parameters for a plan: only the parameters the job's
//! protocol takes, each of its type and within its range, every refusal
//! naming the parameter (and so, in a TOML spec, its line).

use crate::jobspec::{JobSpec, Param, Part, Problem};
use std::ops::RangeInclusive;

/// The parameters of one spec, checked against the names its protocol takes.
pub(crate) struct Params<'a> {
    spec: &'a JobSpec,
}

/// A problem with parameter `name`.
pub(crate) fn bad_param(name: &str, reason: String) -> Problem {
    Problem {
        at: Part::Parameter(name.to_string()),
        reason,
    }
}

/// A problem with the spec as a whole.
pub(crate) fn bad(reason: String) -> Problem {
    Problem {
        at: Part::Whole,
        reason,
    }
}

impl<'a> Params<'a> {
    /// The spec's parameters; any parameter outside `known` is refused (a
    /// typo must not fall back silently to a default).
    pub fn new(spec: &'a JobSpec, known: &[&str]) -> Result<Self, Problem> {
        if let Some(name) = spec
            .parameters
            .keys()
            .find(|k| !known.contains(&k.as_str()))
        {
            return Err(bad_param(
                name,
                format!(
                    "{} jobs take no parameter {name:?} (they take {})",
                    spec.protocol,
                    known.join(", ")
                ),
            ));
        }
        Ok(Self { spec })
    }

    /// The spec's parameters, their names unchecked: to read the one
    /// parameter that decides which names the job takes (a training job's
    /// `algorithm`).
    pub fn unchecked(spec: &'a JobSpec) -> Self {
        Self { spec }
    }

    /// Whether parameter `name` is given.
    pub fn is_set(&self, name: &str) -> bool {
        self.spec.parameters.contains_key(name)
    }

    /// A text parameter, if given; another type is refused.
    pub fn text(&self, name: &str) -> Result<Option<&'a str>, Problem> {
        match self.spec.parameters.get(name) {
            None => Ok(None),
            Some(Param::Text(s)) => Ok(Some(s)),
            Some(other) => Err(bad_param(
                name,
                format!("parameter {name} = {other}: must be text (in quotes)"),
            )),
        }
    }

    /// A text parameter the job cannot do without; `what` says what it is.
    pub fn required_text(&self, name: &str, what: &str) -> Result<&'a str, Problem> {
        self.text(name)?.ok_or_else(|| {
            bad(format!(
                "a {} job names {what} (parameter {name})",
                self.spec.protocol
            ))
        })
    }

    /// A text parameter from `choices`, if given.
    pub fn choice(
        &self,
        name: &str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>, Problem> {
        match self.text(name)? {
            None => Ok(None),
            Some(s) => choices
                .iter()
                .find(|c| **c == s)
                .copied()
                .map(Some)
                .ok_or_else(|| {
                    bad_param(
                        name,
                        format!("parameter {name} = {s:?}: use {}", choices.join(" or ")),
                    )
                }),
        }
    }

    /// An integer parameter within `range`, if given.
    pub fn int(&self, name: &str, range: RangeInclusive<i64>) -> Result<Option<i64>, Problem> {
        match self.spec.parameters.get(name) {
            None => Ok(None),
            Some(Param::Int(i)) if range.contains(i) => Ok(Some(*i)),
            Some(Param::Int(i)) => Err(bad_param(
                name,
                format!(
                    "parameter {name} = {i}: must be {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
            Some(other) => Err(bad_param(
                name,
                format!("parameter {name} = {other}: must be an integer"),
            )),
        }
    }

    /// [`Params::int`] as a `usize` (the range starts at 0 or above).
    pub fn count(&self, name: &str, range: RangeInclusive<i64>) -> Result<Option<usize>, Problem> {
        Ok(self.int(name, range)?.map(|i| i as usize))
    }

    /// A number (integer or float) for which `ok` holds, if given; `rule`
    /// says what `ok` asks.
    pub fn number(
        &self,
        name: &str,
        ok: impl Fn(f64) -> bool,
        rule: &str,
    ) -> Result<Option<f64>, Problem> {
        let x = match self.spec.parameters.get(name) {
            None => return Ok(None),
            Some(Param::Int(i)) => *i as f64,
            Some(Param::Float(x)) => *x,
            Some(other) => {
                return Err(bad_param(
                    name,
                    format!("parameter {name} = {other}: must be a number"),
                ));
            }
        };
        if !(x.is_finite() && ok(x)) {
            return Err(bad_param(name, format!("parameter {name} = {x}: {rule}")));
        }
        Ok(Some(x))
    }

    /// A boolean parameter, if given.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, Problem> {
        match self.spec.parameters.get(name) {
            None => Ok(None),
            Some(Param::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(bad_param(
                name,
                format!("parameter {name} = {other}: must be true or false"),
            )),
        }
    }

    /// A text parameter naming a party of the job: its index.
    pub fn party(&self, name: &str) -> Result<Option<usize>, Problem> {
        let Some(party) = self.text(name)? else {
            return Ok(None);
        };
        self.spec
            .parties
            .iter()
            .position(|p| p.name == party)
            .map(Some)
            .ok_or_else(|| {
                bad_param(
                    name,
                    format!("parameter {name}: {party:?} is not a party of the job"),
                )
            })
    }

    /// A comma-separated list of at most `most` non-empty items, if given.
    pub fn list(&self, name: &str, most: usize) -> Result<Option<Vec<&'a str>>, Problem> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        let mut items = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if items.len() == most {
                return Err(bad_param(
                    name,
                    format!("parameter {name}: more than {most} items"),
                ));
            }
            items.push(item);
        }
        Ok(Some(items))
    }
}

/// The differential-privacy parameters aggregate and horizontal training
/// jobs share, with the job's own clip parameter.
pub(crate) struct DpParams<C> {
    /// `dp_epsilon`: finite, above 0.
    pub epsilon: f64,
    /// `dp_delta`: in (0, 1), [`indomain_aggregate::dp::DEFAULT_DELTA`] by
    /// default.
    pub delta: f64,
    /// The job's clip parameter, as `clip` read it.
    pub clip: C,
    /// `dp_coalition`, if given.
    pub coalition: Option<usize>,
}

/// Parameters `dp_epsilon`, `dp_delta`, the job's clip parameter
/// `clip_name` (read by `clip`, given ε for its refusals) and
/// `dp_coalition` (at most `max_coalition`), in that order: `None` without
/// `dp_epsilon`, whose companions are then refused.
pub(crate) fn dp_params<C>(
    params: &Params<'_>,
    clip_name: &str,
    max_coalition: usize,
    clip: impl FnOnce(f64) -> Result<C, Problem>,
) -> Result<Option<DpParams<C>>, Problem> {
    let Some(epsilon) = params.number("dp_epsilon", |e| e > 0.0, "give a finite number above 0")?
    else {
        if let Some(other) = ["dp_delta", clip_name, "dp_coalition"]
            .into_iter()
            .find(|p| params.is_set(p))
        {
            return Err(bad_param(
                other,
                format!("parameter {other} is used with dp_epsilon only"),
            ));
        }
        return Ok(None);
    };
    let delta = params
        .number(
            "dp_delta",
            |d| d > 0.0 && d < 1.0,
            "give a number in (0, 1)",
        )?
        .unwrap_or(indomain_aggregate::dp::DEFAULT_DELTA);
    let clip = clip(epsilon)?;
    let coalition = params.count("dp_coalition", 0..=max_coalition as i64)?;
    Ok(Some(DpParams {
        epsilon,
        delta,
        clip,
        coalition,
    }))
}
