//! The browser page's address plays the command line's part: `?scenario=classroom&agents=60&seed=7&play&speed=20`
//! opens that run, so a teacher can share a link to the exact run. `?lesson=worm` opens a shipped lesson, playing.
//! With no query the page opens the classroom preset, paused.

use super::ViewOptions;
use super::source::SPEED_RANGE;
use crate::config::SimConfig;
use crate::config::load::{ConfigSource, FlagOverrides, load_config};

/// The preset the page opens when its address names none.
pub const PAGE_SCENARIO: &str = "classroom";

const KEYS: &str = "scenario, lesson, agents, steps, seed, play, speed, large, contrast";

/// The run and view options a page address asks for; a bad address is refused with the field it got wrong.
pub fn page_start(query: &str) -> Result<(SimConfig, ViewOptions), String> {
    let mut scenario = PAGE_SCENARIO.to_string();
    let mut flags = FlagOverrides::default();
    let mut options = ViewOptions::default();
    let mut lesson = None;
    for pair in query.trim_start_matches('?').split('&') {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |what: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("page address: {key}={value:?} is not {what}"))
        };
        match key {
            "scenario" => scenario = value.to_string(),
            // The page has no files: only the shipped lessons, by name.
            "lesson" => {
                if !crate::lesson::BUILTIN.iter().any(|(n, _)| *n == value) {
                    return Err(format!(
                        "page address: unknown lesson {value:?} (expected one of {})",
                        crate::lesson::builtin_names()
                    ));
                }
                lesson = Some(
                    crate::lesson::Lesson::open(value).map_err(|e| format!("page address: {e}"))?,
                );
            }
            "agents" => flags.agents = Some(number("a whole number of agents")? as usize),
            "steps" => {
                flags.steps = Some(
                    u32::try_from(number("a whole number of ticks")?)
                        .map_err(|_| format!("page address: steps={value} is too large"))?,
                )
            }
            "seed" => flags.seed = Some(number("a whole-number seed")?),
            "play" => options.play = value.is_empty() || value == "1" || value == "true",
            "large" => options.large_text = value.is_empty() || value == "1" || value == "true",
            "contrast" => {
                options.high_contrast = value.is_empty() || value == "1" || value == "true"
            }
            "speed" => {
                let speed = value
                    .parse::<f32>()
                    .ok()
                    .filter(|s| (SPEED_RANGE.0..=SPEED_RANGE.1).contains(s))
                    .ok_or_else(|| {
                        format!(
                            "page address: speed={value:?} is not a speed from {} to {} ticks per second",
                            SPEED_RANGE.0, SPEED_RANGE.1
                        )
                    })?;
                options.speed = Some(speed);
            }
            _ => {
                return Err(format!(
                    "page address: unknown setting {key:?} (expected {KEYS})"
                ));
            }
        }
    }
    if let Some(lesson) = lesson {
        let config = lesson
            .config()
            .map_err(|(field, e)| format!("page address: lesson {}: {field}: {e}", lesson.title))?;
        options.play = true;
        options.lesson = Some(lesson);
        return Ok((config, options));
    }
    let config = load_config(&ConfigSource::Scenario(scenario), &[], &flags)
        .map_err(|e| format!("page address: {e}"))?;
    Ok((config, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_query_opens_the_classroom_paused() {
        let (config, options) = page_start("").unwrap();
        let classroom = crate::config::load::scenario("classroom").unwrap();
        assert_eq!(config, classroom);
        assert!(!options.play);
        assert_eq!(options.speed, None);
    }

    #[test]
    fn the_query_sets_the_run_and_the_playback() {
        let (config, options) = page_start("?agents=60&seed=7&steps=200&play&speed=20").unwrap();
        assert_eq!(config.simulation.agents, 60);
        assert_eq!(config.simulation.seed, 7);
        assert_eq!(config.simulation.steps, 200);
        assert!(options.play);
        assert_eq!(options.speed, Some(20.0));
        let (config, _) = page_start("scenario=default").unwrap();
        assert_eq!(config, crate::config::load::scenario("default").unwrap());
    }

    #[test]
    fn a_lesson_opens_its_run_playing() {
        let (config, options) = page_start("?lesson=single-point-of-failure").unwrap();
        let lesson = options.lesson.expect("the lesson");
        assert_eq!(lesson.title, "The single point of failure");
        assert_eq!(config, lesson.config().unwrap());
        assert!(options.play);
        let e = page_start("?lesson=/etc/passwd").unwrap_err();
        assert!(
            e.contains("unknown lesson \"/etc/passwd\" (expected one of worm"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_query_names_the_setting() {
        let cases = [
            ("agents=many", "agents=\"many\""),
            ("speed=1000", "speed=\"1000\""),
            ("colour=red", "unknown setting \"colour\""),
            ("scenario=nope", "unknown scenario \"nope\""),
            ("agents=0", "simulation.agents"),
        ];
        for (query, expected) in cases {
            let err = page_start(query).unwrap_err();
            assert!(err.contains(expected), "{query}: {err}");
        }
    }
}
