//! A `--set` value, written in RON, as the JSON tree `--set` edits: enums externally tagged, as serde writes them.
//!
//! `ron::Value` cannot carry this: it drops variant names, so `cut: bisection` inside a struct becomes null and
//! `uniform(min: 1, max: 4)` a bare map. This reader keeps them: a lower-case word alone is a unit variant (a string),
//! `word(a: 1)` a struct variant, `word(x)` a newtype variant and `word(x, y)` a tuple variant, each as a
//! one-key map. `Some(x)` is `x` and `None` is null; a capitalised struct name before `(` is dropped, as RON allows.

use serde_json::{Map, Number, Value};

/// Parses `text`, or None if it is not RON this reader understands.
pub fn parse(text: &str) -> Option<Value> {
    let mut reader = Reader {
        text: text.as_bytes(),
        at: 0,
    };
    let value = reader.value()?;
    reader.skip_space();
    (reader.at == reader.text.len()).then_some(value)
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_space();
        match self.peek()? {
            b'[' => {
                self.at += 1;
                Some(Value::Array(self.items(b']')?))
            }
            b'(' => {
                self.at += 1;
                self.parenthesised()
            }
            b'"' => self.string().map(Value::String),
            c if c == b'-' || c == b'+' || c == b'.' || c.is_ascii_digit() => self.number(),
            c if c.is_ascii_alphabetic() || c == b'_' => self.word_value(),
            _ => None,
        }
    }

    /// Comma-separated values up to `close` (a trailing comma allowed).
    fn items(&mut self, close: u8) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.value()?);
            if !self.eat(b',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    /// After `(`: a struct `(k: v, ...)` as a map, a tuple `(a, b)` as a list, `()` as null.
    fn parenthesised(&mut self) -> Option<Value> {
        let start = self.at;
        self.skip_space();
        if self.eat(b')') {
            return Some(Value::Null);
        }
        let is_struct = self.word().is_some() && self.eat(b':');
        self.at = start;
        if !is_struct {
            let items = self.items(b')')?;
            return Some(Value::Array(items));
        }
        let mut fields = Map::new();
        loop {
            if self.eat(b')') {
                return Some(Value::Object(fields));
            }
            self.skip_space();
            let name = self.word()?;
            if !self.eat(b':') {
                return None;
            }
            fields.insert(name, self.value()?);
            if !self.eat(b',') {
                return self.eat(b')').then_some(Value::Object(fields));
            }
        }
    }

    fn word(&mut self) -> Option<String> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.at += 1;
        }
        (self.at > start).then(|| String::from_utf8_lossy(&self.text[start..self.at]).into_owned())
    }

    fn word_value(&mut self) -> Option<Value> {
        let word = self.word()?;
        let save = self.at;
        self.skip_space();
        let called = self.peek() == Some(b'(');
        if !called {
            self.at = save;
            return Some(match word.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "None" => Value::Null,
                "inf" => return None,
                _ => Value::String(word),
            });
        }
        self.at += 1;
        let inner = self.parenthesised()?;
        if word == "Some" || word.starts_with(|c: char| c.is_ascii_uppercase()) {
            // `Some(x)` is x; `Name(...)` is a named struct.
            return Some(match inner {
                Value::Array(mut items) if word == "Some" && items.len() == 1 => items.remove(0),
                other => other,
            });
        }
        // A variant: newtype `v(x)` holds x itself, a tuple variant its list, a struct variant its map.
        let payload = match inner {
            Value::Array(mut items) if items.len() == 1 => items.remove(0),
            other => other,
        };
        let mut tagged = Map::new();
        tagged.insert(word, payload);
        Some(Value::Object(tagged))
    }

    fn string(&mut self) -> Option<String> {
        let start = self.at;
        let mut end = start + 1;
        while end < self.text.len() {
            match self.text[end] {
                b'\\' => end += 2,
                b'"' => {
                    let quoted = std::str::from_utf8(&self.text[start..=end]).ok()?;
                    self.at = end + 1;
                    return serde_json::from_str(quoted).ok();
                }
                _ => end += 1,
            }
        }
        None
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        while self.peek().is_some_and(|c| {
            c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'_')
        }) {
            self.at += 1;
        }
        let text: String = String::from_utf8_lossy(&self.text[start..self.at]).replace('_', "");
        if let Ok(i) = text.parse::<i64>() {
            return Some(Value::Number(i.into()));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Some(Value::Number(u.into()));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variants_keep_their_names_as_serde_tags_them() {
        assert_eq!(parse("bisection"), Some(json!("bisection")));
        assert_eq!(
            parse("uniform(min: 1, max: 4)"),
            Some(json!({"uniform": {"min": 1, "max": 4}}))
        );
        assert_eq!(parse("hubs(10)"), Some(json!({"hubs": 10})));
        assert_eq!(parse("agents([1, 2])"), Some(json!({"agents": [1, 2]})));
        assert_eq!(
            parse("[(tick: 30, heal: 120, cut: bisection), (tick:1,heal:2,cut:agents([3]),)]"),
            Some(json!([
                {"tick": 30, "heal": 120, "cut": "bisection"},
                {"tick": 1, "heal": 2, "cut": {"agents": [3]}}
            ]))
        );
    }

    #[test]
    fn plain_ron_values_read_as_before() {
        assert_eq!(parse("0.25"), Some(json!(0.25)));
        assert_eq!(parse("-3"), Some(json!(-3)));
        assert_eq!(parse("true"), Some(json!(true)));
        assert_eq!(parse("None"), Some(json!(null)));
        assert_eq!(parse("Some(5)"), Some(json!(5)));
        assert_eq!(parse("()"), Some(json!(null)));
        assert_eq!(parse("\"a, b\""), Some(json!("a, b")));
        assert_eq!(parse("[1.5, 2]"), Some(json!([1.5, 2])));
        assert_eq!(parse("(x: 1)"), Some(json!({"x": 1})));
        assert_eq!(parse("Point(x: 1)"), Some(json!({"x": 1})));
        assert_eq!(parse("[1, 2"), None);
        assert_eq!(parse("x y"), None);
    }
}
